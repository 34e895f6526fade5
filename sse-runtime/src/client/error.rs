//! [`Error`]: why a stream could not be opened or read on.

use std::fmt;

use awc::http::StatusCode;
use bytes::Bytes;

/// Why an [`EventSource`](super::EventSource) failed. After an error the stream ends: the
/// ones a browser would not retry (a status, a content type) at once, the others once the
/// reconnection attempts are used up.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status other than `200` (and `204`, which ends the
    /// stream without error). With the start of its body (up to 64 KiB; read only by
    /// [`Builder::connect`](super::Builder::connect)).
    Status {
        /// The status.
        status: StatusCode,
        /// The `Content-Type`, if any.
        content_type: Option<String>,
        /// The start of the body.
        body: Bytes,
    },
    /// The server answered `200`, but not with `Content-Type: text/event-stream` (an LLM
    /// API's answer to `"stream": false`, for one). With the start of its body, as for
    /// [`Error::Status`].
    ContentType {
        /// The `Content-Type`, if any.
        content_type: Option<String>,
        /// The start of the body.
        body: Bytes,
    },
    /// The request could not be built (an invalid header).
    Request(String),
    /// The request failed: no connection, no response head in time, a broken
    /// connection before the head.
    Send(awc::error::SendRequestError),
    /// The body failed (the connection broke in the middle of the stream).
    Body(awc::error::PayloadError),
    /// One event held more bytes than [`Builder::max_event_size`](super::Builder::max_event_size).
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// An event's data is not the JSON of the type asked for (from
    /// [`EventSource::json`](super::EventSource::json)).
    Json(serde_json::Error),
}

impl Error {
    /// The status, for [`Error::Status`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn or_none(content_type: &Option<String>) -> &str {
    content_type.as_deref().unwrap_or("none")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Status {
                status,
                content_type,
                ..
            } => write!(
                f,
                "the server answered {status} (content type {}), not 200 with an event stream",
                or_none(content_type)
            ),
            Error::ContentType { content_type, .. } => write!(
                f,
                "the server answered 200 with content type {}, not text/event-stream",
                or_none(content_type)
            ),
            Error::Request(e) => write!(f, "invalid request: {e}"),
            Error::Send(e) => write!(f, "request failed: {e}"),
            Error::Body(e) => write!(f, "the stream broke: {e}"),
            Error::TooLarge { limit } => {
                write!(f, "an event is larger than the limit of {limit} bytes")
            }
            Error::Json(e) => write!(f, "an event's data is not the JSON expected: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Send(e) => Some(e),
            Error::Body(e) => Some(e),
            Error::Json(e) => Some(e),
            _ => None,
        }
    }
}
