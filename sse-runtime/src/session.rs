//! [`SseSession`] (close from anywhere) and [`LastEventId`] (resume).

use std::{
    future::{ready, Ready},
    str::FromStr,
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

/// The `Last-Event-ID` request header, sent by a reconnecting client: as a string
/// (`LastEventId`, the same as `LastEventId<String>`), or parsed into the type the handler
/// wants (`LastEventId<u64>`, any `T: FromStr`).
///
/// Extracting it never fails, because a failed request (`400`) would make a browser's
/// `EventSource` give up for good. It holds one of three things:
///
/// - no id ([`get`](Self::get) is `None`): the header is absent or empty (an empty id
///   means "no id"); the client starts afresh;
/// - the id ([`get`](Self::get) is `Some`);
/// - an *unreadable* id ([`is_unreadable`](Self::is_unreadable), and `get` is `None`): a
///   header was sent but cannot be an id the server gave, because it is not valid UTF-8
///   (the browser only sends back ids it received), longer than [`LastEventId::MAX_LEN`]
///   (1 KiB), sent more than once (which one is meant cannot be known), or, for
///   `LastEventId<T>`, not a `T` (`"abc"` for a `LastEventId<u64>`; logged at `debug`
///   level, target `actix_sse`). The client did miss something, so this is not the same as
///   no id: [`Channels::subscribe`](crate::Channels::subscribe), given `&last`, starts
///   such a subscription with a reset event.
///
/// To answer a garbage id with `400 Bad Request` instead, take the untyped `LastEventId`
/// and [`parse`](LastEventId::parse) it with `?` in a handler returning
/// `actix_web::Result<()>`: before the first event, the error is the response.
///
/// ```
/// use actix_sse::prelude::*;
///
/// // A garbage id reads as no id here: the client starts over.
/// #[sse("/counter")]
/// async fn counter(last: LastEventId<u64>) {
///     let start = last.map_or(0, |n| n + 1);
///     for n in start..start + 3 {
///         send!(n.to_string(), id = n);
///     }
/// }
///
/// // A garbage id is answered `400`.
/// #[sse("/strict")]
/// async fn strict(last: LastEventId) -> actix_web::Result<()> {
///     let start = last.parse::<u64>()?.map_or(0, |n| n + 1);
///     send!(start.to_string(), id = start)?;
///     Ok(())
/// }
/// # let _ = actix_web::App::new().service(counter).service(strict);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEventId<T = String> {
    id: Option<T>,
    unreadable: bool,
}

impl<T> Default for LastEventId<T> {
    fn default() -> Self {
        Self::new(None)
    }
}

impl LastEventId {
    /// The header's name.
    pub const HEADER: HeaderName = HeaderName::from_static("last-event-id");

    /// The longest id read, in bytes; a longer header is treated as absent.
    pub const MAX_LEN: usize = 1024;

    /// The id a request carries, by the rules above.
    pub fn from_request_headers(headers: &actix_web::http::header::HeaderMap) -> Self {
        let mut values = headers.get_all(&Self::HEADER);
        let value = match (values.next(), values.next()) {
            (None, _) => return Self::new(None),
            (Some(value), None) => value,
            (Some(_), Some(_)) => return Self::unreadable(),
        };
        if value.len() > Self::MAX_LEN {
            return Self::unreadable();
        }
        match std::str::from_utf8(value.as_bytes()) {
            Ok("") => Self::new(None),
            Ok(id) => Self::new(Some(id.to_owned())),
            Err(_) => Self::unreadable(),
        }
    }

    /// The id as `Option<&str>` (`None` when it is unreadable too). To subscribe to
    /// [`Channels`](crate::Channels), pass `&last` instead: it keeps an unreadable id apart
    /// from no id.
    pub fn as_deref(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The id parsed as a `T`: `Ok(None)` without an id, `Err` for an id that is not a
    /// `T`. The error is a `ResponseError` answered `400 Bad Request`, so `?` in a handler
    /// returning `actix_web::Result<()>` rejects such a request (before its first event).
    ///
    /// ```
    /// use actix_sse::LastEventId;
    ///
    /// assert_eq!(LastEventId::new(Some("41".into())).parse::<u64>().unwrap(), Some(41));
    /// assert_eq!(LastEventId::new(None).parse::<u64>().unwrap(), None);
    /// assert!(LastEventId::new(Some("x".into())).parse::<u64>().is_err());
    /// ```
    ///
    /// An unreadable header reads as no id here (its value could not be read to parse).
    pub fn parse<T: FromStr>(&self) -> Result<Option<T>, InvalidLastEventId> {
        match self.as_deref() {
            None => Ok(None),
            Some(id) => id
                .parse()
                .map(Some)
                .map_err(|_| InvalidLastEventId(id.to_owned())),
        }
    }
}

impl<T> LastEventId<T> {
    /// An id (`Some`), or no id (`None`).
    pub fn new(id: Option<T>) -> Self {
        Self {
            id,
            unreadable: false,
        }
    }

    /// A header that was sent but could not be read (see above).
    pub fn unreadable() -> Self {
        Self {
            id: None,
            unreadable: true,
        }
    }

    /// The id, if any.
    pub fn get(&self) -> Option<&T> {
        self.id.as_ref()
    }

    /// Whether the client sent a header that could not be read: it has missed something,
    /// though what cannot be known.
    pub fn is_unreadable(&self) -> bool {
        self.unreadable
    }

    /// The id.
    pub fn into_inner(self) -> Option<T> {
        self.id
    }
}

impl<T> std::ops::Deref for LastEventId<T> {
    type Target = Option<T>;
    fn deref(&self) -> &Option<T> {
        &self.id
    }
}

impl<T: FromStr> FromRequest for LastEventId<T> {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let read = LastEventId::from_request_headers(req.headers());
        let last = match read.id {
            None if read.unreadable => LastEventId::unreadable(),
            None => LastEventId::new(None),
            Some(id) => match id.parse() {
                Ok(id) => LastEventId::new(Some(id)),
                Err(_) => {
                    log::debug!(target: "actix_sse", "Last-Event-ID `{id}` is not a {}: unreadable", std::any::type_name::<T>());
                    LastEventId::unreadable()
                }
            },
        };
        ready(Ok(last))
    }
}

/// A `Last-Event-ID` that is not the type the handler wants (see [`LastEventId::parse`]);
/// as a response, `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLastEventId(String);

impl InvalidLastEventId {
    /// The id as the client sent it.
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for InvalidLastEventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid Last-Event-ID `{}`", self.0.escape_debug())
    }
}

impl std::error::Error for InvalidLastEventId {}

impl actix_web::ResponseError for InvalidLastEventId {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::BAD_REQUEST
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderValue};

    use super::*;

    fn read(values: &[&[u8]]) -> LastEventId {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(LastEventId::HEADER, HeaderValue::from_bytes(v).unwrap());
        }
        LastEventId::from_request_headers(&headers)
    }

    #[test]
    fn no_header_an_id_and_an_unreadable_header_are_three_things() {
        let none = read(&[]);
        assert_eq!((none.get(), none.is_unreadable()), (None, false));
        assert_eq!(read(&[b""]), none, "an empty id is no id");
        let id = read(&[b"e-41"]);
        assert_eq!((id.as_deref(), id.is_unreadable()), (Some("e-41"), false));
        let at_cap = vec![b'1'; LastEventId::MAX_LEN];
        assert_eq!(read(&[&at_cap]).as_deref().map(str::len), Some(1024));

        let too_long = vec![b'1'; LastEventId::MAX_LEN + 1];
        for unreadable in [
            read(&[&too_long]),
            read(&[&[0xff, 0xfe]]),
            read(&[b"e-1", b"e-2"]),
            read(&[b"e-1", b""]),
        ] {
            assert!(unreadable.is_unreadable(), "{unreadable:?}");
            assert_eq!(unreadable.get(), None);
            assert_eq!(unreadable.parse::<u64>().unwrap(), None);
        }
    }
}
