//! `Sse` as an actix-web `Responder` and `MessageBody`.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use actix_web::{
    body::{BodySize, MessageBody},
    http::{
        header::{self, HeaderValue},
        ConnectionType, StatusCode, Version,
    },
    HttpMessage, HttpRequest, HttpResponse, Responder,
};
use bytes::Bytes;

use crate::{stream::Source, Sse, SseError, SseSession};

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
impl<S: Source + 'static> Responder for Sse<S> {
    type Body = Self;

    fn respond_to(mut self, req: &HttpRequest) -> HttpResponse<Self> {
        if let Some(session) = req.extensions().get::<SseSession>() {
            self.attach_session(session.clone());
        }
        let mut res = HttpResponse::with_body(StatusCode::OK, self);
        if req.version() < Version::HTTP_11 {
            // HTTP/1.0 forbids `Transfer-Encoding: chunked`: the body is delimited by the
            // connection's close, so the connection cannot be kept alive.
            let head = res.head_mut();
            head.no_chunking(true);
            head.set_connection_type(ConnectionType::Close);
        }
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        );
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        res
    }
}
