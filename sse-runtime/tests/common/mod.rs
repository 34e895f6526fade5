//! Driving an `Sse` body by hand, as actix-web would.
#![allow(dead_code, unreachable_pub)]

use std::{future::poll_fn, pin::Pin};

use actix_web::body::MessageBody;
use bytes::Bytes;
use sse_runtime::SseError;

pub type Body = Pin<Box<dyn MessageBody<Error = SseError>>>;

pub fn boxed<B: MessageBody<Error = SseError> + 'static>(b: B) -> Body {
    Box::pin(b)
}

/// The next chunk, the end (`None`) or the error, waiting as actix-web would.
pub async fn next(body: &mut Body) -> Option<Result<Bytes, String>> {
    poll_fn(|cx| body.as_mut().poll_next(cx))
        .await
        .map(|r| r.map_err(|e| e.to_string()))
}

pub async fn next_chunk(body: &mut Body) -> Bytes {
    next(body).await.expect("a chunk").expect("not an error")
}
