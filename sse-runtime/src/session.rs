//! [`SseSession`] (close from anywhere) and [`LastEventId`] (resume).

use std::{
    future::{ready, Ready},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    task::Waker,
};

use actix_web::{
    dev::Payload, error, http::header::HeaderName, FromRequest, HttpMessage, HttpRequest,
};

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

/// The `Last-Event-ID` request header, sent by a reconnecting client (WIRE 35).
///
/// Read as bytes and decoded as UTF-8, so non-ASCII ids work. `None` when the header is
/// absent or empty (an empty id means "no id", WIRE 24). A header that is not valid UTF-8
/// is answered with `400 Bad Request` (the browser only ever sends back ids it received,
/// which are UTF-8; anything else is not a resumption we can honour).
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
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(&Self::HEADER) else {
            return ready(Ok(Self(None)));
        };
        ready(match std::str::from_utf8(value.as_bytes()) {
            Ok("") => Ok(Self(None)),
            Ok(id) => Ok(Self(Some(id.to_owned()))),
            Err(_) => Err(error::ErrorBadRequest(
                "Last-Event-ID header is not valid UTF-8",
            )),
        })
    }
}
