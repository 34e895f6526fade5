//! [`EventSource`] and its [`Builder`]: requests, the stream of events, reconnection.

use std::{
    collections::VecDeque,
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    task::{ready, Context, Poll},
    time::Duration,
};

use awc::{
    error::PayloadError,
    http::{
        header::{self, HeaderName, HeaderValue, TryIntoHeaderPair},
        Method, StatusCode,
    },
};
use bytes::Bytes;
use futures_core::Stream;

use super::{Error, ServerSentEvent};
use crate::parse::{Frame, Parser};

/// The reconnection time until the server sends `retry`: 3 s, as in browsers.
pub const DEFAULT_RECONNECTION_TIME: Duration = Duration::from_secs(3);

/// The longest wait between two reconnection attempts after repeated failures (unless
/// the server's `retry` is longer): 30 s.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The most bytes one event may hold while it is read (its data and the line being
/// read): 8 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 8 << 20;

/// How long a request waits for the response head by default: 30 s.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The start of an error response's body that [`Builder::connect`] keeps: 64 KiB.
const ERROR_BODY: usize = 64 << 10;

type OnReconnect = Box<dyn FnMut(&Reconnect)>;
type Body = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;
type Pending = Pin<Box<dyn Future<Output = Result<Answer, Error>>>>;

/// What a server answered.
enum Answer {
    Stream(Body),
    NoContent,
    Refused {
        status: StatusCode,
        content_type: Option<String>,
        body: Body,
    },
    WrongType(Option<String>, Body),
}

/// One reconnection the client is about to make, for
/// [`Builder::on_reconnect`]: why, after how long, from which id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconnect {
    /// The attempt since the last successful connection: 1 for the first.
    pub attempt: u32,
    /// How long the client waits before it.
    pub delay: Duration,
    /// The `Last-Event-ID` it sends (empty: none).
    pub last_event_id: String,
    /// Why: the stream ended, the connection broke, or the last attempt failed.
    pub reason: String,
}

impl fmt::Display for Reconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; reconnecting in {} ms (attempt {}",
            self.reason,
            self.delay.as_millis(),
            self.attempt
        )?;
        if !self.last_event_id.is_empty() {
            write!(f, ", Last-Event-ID: {}", self.last_event_id)?;
        }
        f.write_str(")")
    }
}

/// A request for an event stream, made by [`EventSource::get`], [`EventSource::post`] or
/// [`EventSource::request`]: set headers, a body and the reconnection policy, then
/// [`connect`](Self::connect).
#[must_use = "nothing is sent until `connect` is awaited"]
pub struct Builder {
    client: Option<awc::Client>,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    invalid: Option<String>,
    body: Option<Bytes>,
    last_event_id: String,
    retry: Duration,
    max_backoff: Duration,
    max_reconnects: Option<u32>,
    show_comments: bool,
    show_retry: bool,
    max_event_size: usize,
    head_timeout: Option<Duration>,
    on_reconnect: Option<OnReconnect>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Builder {
    fn new(method: Method, url: impl Into<String>) -> Self {
        Builder {
            client: None,
            method,
            url: url.into(),
            headers: Vec::new(),
            invalid: None,
            body: None,
            last_event_id: String::new(),
            retry: DEFAULT_RECONNECTION_TIME,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_reconnects: None,
            show_comments: false,
            show_retry: false,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            head_timeout: Some(DEFAULT_HEAD_TIMEOUT),
            on_reconnect: None,
        }
    }

    /// Sends through this `awc` client (its connector, TLS, pool), instead of a plain one
    /// made for this stream. Its own timeout, if any, bounds the wait for each response
    /// head as [`head_timeout`](Self::head_timeout) does; build it with
    /// `disable_timeout()` to leave that to the builder.
    pub fn client(mut self, client: awc::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Adds a header to every request of the stream (`("authorization", "Bearer ..")`).
    /// An invalid one fails [`connect`](Self::connect).
    pub fn header(mut self, header: impl TryIntoHeaderPair) -> Self {
        match header.try_into_pair() {
            Ok(pair) => self.headers.push(pair),
            Err(e) => {
                self.invalid.get_or_insert_with(|| e.into().to_string());
            }
        }
        self
    }

    /// Sends `Authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: impl fmt::Display) -> Self {
        self.header((header::AUTHORIZATION, format!("Bearer {token}")))
    }

    /// Sends this body with every request of the stream (reconnections too).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sends `value` as JSON (`Content-Type: application/json`).
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = Some(body.into());
                self.header((header::CONTENT_TYPE, "application/json"))
            }
            Err(e) => {
                self.invalid.get_or_insert_with(|| e.to_string());
                self
            }
        }
    }

    /// Starts from this last event id: the first request sends it as `Last-Event-ID`.
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = id.into();
        self
    }

    /// The reconnection time until the server sends `retry`
    /// ([`DEFAULT_RECONNECTION_TIME`] by default).
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// At most this many reconnection attempts in a row without a successful connection
    /// (each failure after the first waits longer, up to
    /// [`max_backoff`](Self::max_backoff), with jitter); then the stream ends with the last
    /// error. `0`: never reconnect. Unlimited by default, as a browser.
    pub fn max_reconnects(mut self, attempts: u32) -> Self {
        self.max_reconnects = Some(attempts);
        self
    }

    /// The longest wait between two failed attempts ([`DEFAULT_MAX_BACKOFF`] by default;
    /// a longer `retry` from the server still counts).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Yields comments too (Ktor's `showCommentEvents`), as items with only
    /// [`comment`](ServerSentEvent::comment). Off by default.
    pub fn show_comments(mut self, show: bool) -> Self {
        self.show_comments = show;
        self
    }

    /// Yields a block with a `retry` field but no data too (Ktor's `showRetryEvents`), as
    /// an item with only [`retry`](ServerSentEvent::retry). A `retry` in an event's block
    /// is on the event either way. Off by default; a relay turns it on so that the
    /// server's `retry` reaches its own clients.
    pub fn show_retry(mut self, show: bool) -> Self {
        self.show_retry = show;
        self
    }

    /// The most bytes one event may hold while it is read: its data and the line being
    /// read ([`DEFAULT_MAX_EVENT_SIZE`] by default). A larger event ends the stream with
    /// [`Error::TooLarge`].
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// How long each request waits for the response head ([`DEFAULT_HEAD_TIMEOUT`] by
    /// default; `None`: as long as it takes). Events may then be any time apart.
    pub fn head_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.head_timeout = timeout;
        self
    }

    /// Called before each reconnection (to log it, count it).
    pub fn on_reconnect(mut self, f: impl FnMut(&Reconnect) + 'static) -> Self {
        self.on_reconnect = Some(Box::new(f));
        self
    }

    /// Sends the request and checks the answer, once (no retry on this first request):
    /// the stream of events on `200` with `Content-Type: text/event-stream`; a stream that
    /// has ended on `204 No Content`; [`Error::Status`] on another status,
    /// [`Error::ContentType`] on another type (both with the start of the body), [`Error::Send`] if there
    /// was no answer.
    pub async fn connect(self) -> Result<EventSource, Error> {
        if let Some(e) = &self.invalid {
            return Err(Error::Request(e.clone()));
        }
        let mut parser = Parser::new(self.max_event_size, self.show_comments);
        parser.set_last_event_id(self.last_event_id);
        let mut source = EventSource {
            client: self
                .client
                .unwrap_or_else(|| awc::Client::builder().disable_timeout().finish()),
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            head_timeout: self.head_timeout,
            reconnection_time: self.retry,
            max_backoff: self.max_backoff,
            max_reconnects: self.max_reconnects,
            show_retry: self.show_retry,
            on_reconnect: self.on_reconnect,
            parser,
            frames: Vec::new(),
            ready: VecDeque::new(),
            attempt: 0,
            state: State::Done,
            status: StatusCode::OK,
        };
        let answer = source.send().await?;
        match answer {
            Answer::Stream(body) => source.state = State::Streaming(body),
            Answer::NoContent => source.status = StatusCode::NO_CONTENT,
            Answer::Refused {
                status,
                content_type,
                body,
            } => {
                return Err(Error::Status {
                    status,
                    content_type,
                    body: error_body(body).await,
                })
            }
            Answer::WrongType(content_type, body) => {
                return Err(Error::ContentType {
                    content_type,
                    body: error_body(body).await,
                })
            }
        }
        Ok(source)
    }
}

/// Up to [`ERROR_BODY`] bytes of a response that is not a stream, waiting at most 5 s.
async fn error_body(mut body: Body) -> Bytes {
    let mut out = Vec::new();
    let read = async {
        while out.len() < ERROR_BODY {
            match std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
                Some(Ok(chunk)) => out.extend_from_slice(&chunk),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    out.truncate(ERROR_BODY);
    out.into()
}

enum State {
    Streaming(Body),
    Waiting(Pin<Box<tokio::time::Sleep>>),
    Connecting(Pending),
    /// Ends with this error once the events read before it are taken.
    Failed(Error),
    Done,
}

/// A stream of Server-Sent Events from a URL, read the way a browser's `EventSource`
/// reads it, and reconnecting the way it does: a `Stream` of
/// `Result<`[`ServerSentEvent`]`, `[`Error`]`>` that ends after `204`, after an error, or
/// when reconnection attempts are used up. Made by a [`Builder`].
///
/// See [the module documentation](super) for an example, the reconnection rules and
/// the memory bound.
pub struct EventSource {
    client: awc::Client,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Bytes>,
    head_timeout: Option<Duration>,
    reconnection_time: Duration,
    max_backoff: Duration,
    max_reconnects: Option<u32>,
    show_retry: bool,
    on_reconnect: Option<OnReconnect>,
    parser: Parser,
    frames: Vec<Frame>,
    ready: VecDeque<ServerSentEvent>,
    /// Reconnection attempts since the last successful connection.
    attempt: u32,
    state: State,
    status: StatusCode,
}

impl fmt::Debug for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("last_event_id", &self.parser.last_event_id())
            .field("reconnection_time", &self.reconnection_time)
            .finish_non_exhaustive()
    }
}

impl EventSource {
    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Builder {
        Builder::new(Method::GET, url)
    }

    /// `POST url` (add the body with [`Builder::json`] or [`Builder::body`]).
    pub fn post(url: impl Into<String>) -> Builder {
        Builder::new(Method::POST, url)
    }

    /// A request with any method.
    pub fn request(method: Method, url: impl Into<String>) -> Builder {
        Builder::new(method, url)
    }

    /// The last event id the client holds: what it sends as `Last-Event-ID` when it
    /// reconnects (empty: none).
    pub fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    /// The reconnection time: the server's last `retry`, or the builder's.
    pub fn reconnection_time(&self) -> Duration {
        self.reconnection_time
    }

    /// `204` once the server said `204 No Content` (the stream has ended for good), else
    /// `200`.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The events' data as JSON values of type `T`, skipping comment and retry items; an
    /// event that is not the JSON of a `T` yields [`Error::Json`] and the stream goes on.
    pub fn json<T: serde::de::DeserializeOwned>(self) -> JsonEvents<T> {
        JsonEvents {
            source: self,
            _type: PhantomData,
        }
    }

    fn send(&self) -> Pending {
        let mut req = self.client.request(self.method.clone(), &self.url);
        for (name, value) in &self.headers {
            req.headers_mut().append(name.clone(), value.clone());
        }
        req = req
            .insert_header_if_none((header::ACCEPT, "text/event-stream"))
            .insert_header_if_none((header::CACHE_CONTROL, "no-cache"));
        let id = self.parser.last_event_id();
        if !id.is_empty() {
            // The parser keeps no CR, LF or NUL in an id; UTF-8 goes as it is.
            if let Ok(value) = HeaderValue::from_bytes(id.as_bytes()) {
                req = req.insert_header((HeaderName::from_static("last-event-id"), value));
            }
        }
        if let Some(timeout) = self.head_timeout {
            req = req.timeout(timeout);
        }
        let send = match &self.body {
            Some(body) => req.send_body(body.clone()),
            None => req.send(),
        };
        Box::pin(async move {
            let res = send.await.map_err(Error::Send)?;
            let status = res.status();
            let content_type = res
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            if status == StatusCode::NO_CONTENT {
                return Ok(Answer::NoContent);
            }
            let body: Body = Box::pin(res);
            if status != StatusCode::OK {
                return Ok(Answer::Refused {
                    status,
                    content_type,
                    body,
                });
            }
            let essence = content_type
                .as_deref()
                .map(|t| t.split(';').next().unwrap_or("").trim());
            if !essence.is_some_and(|t| t.eq_ignore_ascii_case("text/event-stream")) {
                return Ok(Answer::WrongType(content_type, body));
            }
            Ok(Answer::Stream(body))
        })
    }

    /// The connection is over (`error`: why, if it failed): waits to reconnect, or ends
    /// the stream once the attempts are used up (with the error, if any).
    fn reconnect(&mut self, reason: String, error: Option<Error>) -> Option<Error> {
        if self.max_reconnects.is_some_and(|max| self.attempt >= max) {
            self.state = State::Done;
            return error;
        }
        self.attempt += 1;
        let delay = self.delay();
        if let Some(f) = &mut self.on_reconnect {
            f(&Reconnect {
                attempt: self.attempt,
                delay,
                last_event_id: self.parser.last_event_id().to_owned(),
                reason,
            });
        }
        self.state = State::Waiting(Box::pin(tokio::time::sleep(delay)));
        None
    }

    /// The first attempt waits the reconnection time exactly; each further failure
    /// doubles it, up to the maximum backoff, and waits a random part of it above half.
    fn delay(&self) -> Duration {
        let base = self.reconnection_time;
        if self.attempt <= 1 {
            return base;
        }
        let cap = self.max_backoff.max(base);
        let factor = 1u32 << (self.attempt - 1).min(20);
        let full = base.saturating_mul(factor).min(cap);
        jitter(full).max(base)
    }

    fn take_frames(&mut self) {
        for frame in self.frames.drain(..) {
            match frame {
                Frame::Retry(retry) => self.reconnection_time = retry,
                Frame::Comment(text) => self.ready.push_back(ServerSentEvent {
                    comment: Some(text),
                    last_event_id: self.parser.last_event_id_shared(),
                    ..ServerSentEvent::default()
                }),
                Frame::Dispatch(block) => {
                    if block.data.is_some() || (self.show_retry && block.retry.is_some()) {
                        self.ready.push_back(ServerSentEvent {
                            event: (!block.event.is_empty()).then_some(block.event),
                            data: block.data,
                            id: block.id,
                            retry: block.retry,
                            comment: None,
                            last_event_id: block.last_event_id,
                        });
                    }
                }
            }
        }
    }
}

/// Uniform in `[d/2, d]`.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // Each `RandomState` has fresh keys: a random number without a dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let half = d / 2;
    let span = u64::try_from((d - half).as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(random % span.saturating_add(1))
}

impl Stream for EventSource {
    type Item = Result<ServerSentEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            match &mut this.state {
                State::Streaming(body) => match ready!(body.as_mut().poll_next(cx)) {
                    Some(Ok(chunk)) => {
                        let fed = this.parser.feed(&chunk, &mut this.frames);
                        this.take_frames();
                        if let Err(e) = fed {
                            // The events before it first, then the error.
                            this.state = State::Failed(Error::TooLarge { limit: e.limit });
                        }
                    }
                    Some(Err(e)) => {
                        let reason = format!("the stream broke ({e})");
                        if let Some(e) = this.reconnect(reason, Some(Error::Body(e))) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    None => {
                        if let Some(e) = this.reconnect("the stream ended".into(), None) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                },
                State::Waiting(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    this.parser.restart();
                    this.state = State::Connecting(this.send());
                }
                State::Connecting(pending) => match ready!(pending.as_mut().poll(cx)) {
                    Ok(Answer::Stream(body)) => {
                        this.attempt = 0;
                        this.state = State::Streaming(body);
                    }
                    Ok(Answer::NoContent) => {
                        this.status = StatusCode::NO_CONTENT;
                        this.state = State::Done;
                    }
                    Ok(Answer::Refused {
                        status,
                        content_type,
                        ..
                    }) => {
                        this.state = State::Done;
                        return Poll::Ready(Some(Err(Error::Status {
                            status,
                            content_type,
                            body: Bytes::new(),
                        })));
                    }
                    Ok(Answer::WrongType(content_type, _)) => {
                        this.state = State::Done;
                        return Poll::Ready(Some(Err(Error::ContentType {
                            content_type,
                            body: Bytes::new(),
                        })));
                    }
                    Err(e) => {
                        let reason = format!("reconnection failed ({e})");
                        if let Some(e) = this.reconnect(reason, Some(e)) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                },
                State::Failed(_) => {
                    let State::Failed(e) = std::mem::replace(&mut this.state, State::Done) else {
                        unreachable!()
                    };
                    return Poll::Ready(Some(Err(e)));
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

/// The events of an [`EventSource`] as JSON values of type `T`: [`EventSource::json`].
pub struct JsonEvents<T> {
    source: EventSource,
    _type: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for JsonEvents<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JsonEvents").field(&self.source).finish()
    }
}

impl<T> JsonEvents<T> {
    /// The event source underneath.
    pub fn source(&self) -> &EventSource {
        &self.source
    }
}

impl<T: serde::de::DeserializeOwned> Stream for JsonEvents<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match ready!(Pin::new(&mut this.source).poll_next(cx)) {
                Some(Ok(event)) if event.is_event() => {
                    return Poll::Ready(Some(event.json().map_err(Error::Json)))
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}
