//! [`SseSession`] (close from anywhere) and [`LastEventId`] (resume).

use std::{
    future::{ready, Ready},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    task::Waker,
};

use actix_web::{dev::Payload, http::header::HeaderName, FromRequest, HttpMessage, HttpRequest};

/// A handle on one event stream that can end it from anywhere, on any thread.
///
/// `close()` sends nothing (Ktor semantics): events already sent are delivered, then the
/// body ends cleanly. Cloning is cheap (one `Arc`). When the client goes away, the session
/// reads as closed too, so other tasks can stop producing for it.
///
/// As an extractor (`session: SseSession` in a handler's parameters), it is attached to the
/// [`Sse`](crate::Sse) response the handler returns.
///
/// ```
/// use actix_sse::{Sse, SseSession};
///
/// let session = SseSession::new();
/// let body = Sse::from_fn(|tx| async move { let _ = tx.send("hi").await; })
///     .with_session(session.clone());
/// std::thread::spawn(move || session.close()).join().unwrap();
/// # drop(body);
/// ```
#[derive(Clone, Default)]
pub struct SseSession {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    closed: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl SseSession {
    /// A new, open session, not yet attached to a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the stream without sending anything.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let waker = self
            .inner
            .waker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// True once the stream was closed, by [`close`](Self::close) or because it ended or
    /// the client went away.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    pub(crate) fn register(&self, waker: &Waker) {
        let mut slot = self.inner.waker.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    pub(crate) fn mark_closed(&self) {
        self.inner.closed.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for SseSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseSession")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl FromRequest for SseSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut ext = req.extensions_mut();
        let session = ext.get::<SseSession>().cloned().unwrap_or_else(|| {
            let session = SseSession::new();
            ext.insert(session.clone());
            session
        });
        ready(Ok(session))
    }
}

/// The `Last-Event-ID` request header, sent by a reconnecting client.
///
/// `None` when there is nothing to resume from. Extracting it never fails, because a
/// failed request (`400`) would make a browser's `EventSource` give up for good; instead
/// every header that cannot be an id the server sent is treated as absent:
///
/// - absent or empty (an empty id means "no id");
/// - not valid UTF-8 (the browser only sends back ids it received, which are UTF-8);
/// - longer than [`LastEventId::MAX_LEN`] (1 KiB);
/// - sent more than once (which one is meant cannot be known).
///
/// ```
/// use actix_sse::LastEventId;
///
/// fn resume_after(last: &LastEventId) -> Option<u64> {
///     last.as_deref().and_then(|id| id.parse().ok())
/// }
/// assert_eq!(resume_after(&LastEventId(Some("41".into()))), Some(41));
/// assert_eq!(resume_after(&LastEventId(None)), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl LastEventId {
    /// The header's name.
    pub const HEADER: HeaderName = HeaderName::from_static("last-event-id");

    /// The longest id read, in bytes; a longer header is treated as absent.
    pub const MAX_LEN: usize = 1024;

    /// The id a request carries, by the rules above.
    pub fn from_request_headers(headers: &actix_web::http::header::HeaderMap) -> Self {
        let mut values = headers.get_all(&Self::HEADER);
        let (Some(value), None) = (values.next(), values.next()) else {
            return Self(None);
        };
        if value.len() > Self::MAX_LEN {
            return Self(None);
        }
        match std::str::from_utf8(value.as_bytes()) {
            Ok("") | Err(_) => Self(None),
            Ok(id) => Self(Some(id.to_owned())),
        }
    }

    /// The id as `Option<&str>`.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The id.
    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

impl std::ops::Deref for LastEventId {
    type Target = Option<String>;
    fn deref(&self) -> &Option<String> {
        &self.0
    }
}

impl FromRequest for LastEventId {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::from_request_headers(req.headers())))
    }
}
