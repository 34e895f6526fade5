//! `Sse` as an actix-web `Responder` and `MessageBody`.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use actix_web::{
    body::{BodySize, MessageBody},
    HttpMessage, HttpRequest, HttpResponse, Responder,
};
use bytes::Bytes;

use crate::{
    stream::{stream_response, Source},
    Sse, SseError, SseSession,
};

impl<S: Source> MessageBody for Sse<S> {
    type Error = SseError;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.poll_chunk(cx)
    }
}

/// `200 OK` with `Content-Type: text/event-stream`, `Cache-Control: no-cache`,
/// `X-Accel-Buffering: no` (nginx must not buffer) and `Content-Encoding: identity` (so
/// actix-web's `Compress` middleware neither compresses nor buffers the stream). No
/// `Content-Length`: the body is chunked for HTTP/1.1. HTTP/1.0 has no chunked encoding, so
/// an HTTP/1.0 client gets the events as a plain body that ends when the connection closes.
/// An [`SseSession`] extracted for this request is attached to the stream.
///
/// The head goes out at once: to let the handler still answer otherwise (`204`, `401`, …)
/// until its first event, return [`Sse::start`]'s result instead.
impl<S: Source + 'static> Responder for Sse<S> {
    type Body = Self;

    fn respond_to(mut self, req: &HttpRequest) -> HttpResponse<Self> {
        if let Some(session) = req.extensions().get::<SseSession>() {
            self.attach_session(session.clone());
        }
        self.attach_probe(req);
        let shared = self.shared().clone();
        stream_response(req, self, &shared)
    }
}
