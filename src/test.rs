//! A test client for SSE handlers: open an `#[sse]` service (or any responder) through
//! [`actix_web::test`](mod@actix_web::test), without a socket, and read the events it sends.
//!
//! ```
//! use actix_sse::prelude::*;
//! use actix_sse::test::{self as sse_test, ReceivedEvent};
//! use actix_web::{test, App};
//!
//! #[sse("/count")]
//! async fn count() {
//!     for i in 1..=2 {
//!         send!(format!("#{i}"), id = i);
//!     }
//! }
//!
//! // In an `#[actix_web::test] async fn`:
//! # actix_web::rt::System::new().block_on(async {
//! let app = test::init_service(App::new().service(count)).await;
//! let mut stream = sse_test::get(&app, "/count").await;
//! assert_eq!(stream.status(), 200);
//! stream.assert_event(ReceivedEvent::data("#1").id("1")).await;
//! stream.assert_event(ReceivedEvent::data("#2").id("2")).await;
//! stream.assert_end().await;
//! # });
//! ```
//!
//! - [`get`] and [`open`] send a request to a service made by
//!   [`actix_web::test::init_service`] and return an [`EventStream`] (also for a response
//!   that is not a stream: a `204` or `401` answered before the first event, see
//!   [`EventStream::status`] and [`EventStream::text`]); [`respond`] does the same for a
//!   responder alone;
//! - [`EventStream::next`] reads the next [`Message`]: an event, a comment (a heartbeat), a
//!   `retry`; [`EventStream::next_event`] only events;
//! - [`EventStream::assert_event`], [`EventStream::assert_end`] and
//!   [`EventStream::events`] make the usual assertions short.
//!
//! The body is read as a browser's `EventSource` reads it (the WHATWG rules: CR, LF and
//! CRLF line ends, `data` lines joined with LF, one leading BOM skipped, `:` comments, a
//! field without colon, `retry` digits only, invalid UTF-8 as U+FFFD), by [`Parser`],
//! which can also read bytes from anywhere else.
//!
//! # Time
//!
//! Nothing here waits on a clock: the body is polled in the test's own task. Under tokio's
//! paused time (`tokio::time::pause()` at the start of an `#[actix_web::test]`, or
//! `#[tokio::test(start_paused = true)]`; tokio's `test-util` feature), timers fire as soon
//! as the test has nothing else to do, so a test of a 15 s heartbeat or of a handler that
//! sleeps between events runs at once:
//!
//! ```
//! use actix_sse::prelude::*;
//! use actix_sse::test::{self as sse_test, Message};
//! use actix_web::{test, App};
//!
//! #[sse("/quiet", heartbeat = "15s")]
//! async fn quiet() {
//!     tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
//! }
//!
//! // In an `#[actix_web::test] async fn`:
//! # actix_web::rt::System::new().block_on(async {
//! tokio::time::pause();
//! let app = test::init_service(App::new().service(quiet)).await;
//! let mut stream = sse_test::get(&app, "/quiet").await;
//! for _ in 0..4 {
//!     // Each one 15 s after the last, on the paused clock: at once.
//!     assert_eq!(stream.next().await, Some(Message::Comment(String::new())));
//! }
//! # });
//! ```
//!
//! A stream that may go silent for good (no heartbeat, a handler that waits on something
//! other than a timer) makes `next()` wait for good too: wrap it in `tokio::time::timeout`
//! then.

use std::{
    fmt,
    future::{Future, IntoFuture},
    pin::Pin,
    time::Duration,
};

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{Service, ServiceResponse},
    http::{
        header::{HeaderMap, HeaderValue, TryIntoHeaderPair},
        StatusCode,
    },
    test::TestRequest,
    HttpResponse, Responder,
};

/// One thing read from an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// An event, dispatched by the empty line that ends it.
    Event(ReceivedEvent),
    /// A comment line (`:` then the text), e.g. a heartbeat (`:` alone reads as an empty
    /// comment). The text is what follows the colon, one leading space removed.
    Comment(String),
    /// A valid `retry` field (ASCII digits only): the client's reconnection time from now
    /// on. Reported where it appears, also inside an event's lines or alone.
    Retry(Duration),
}

/// An event as an `EventSource` dispatches it.
///
/// `event` is the type (`message` when the stream sent none), `data` the `data` lines
/// joined with LF, and `id` the *last event id* at this event, as a browser's
/// `MessageEvent.lastEventId`: the value of the latest `id` field of the stream, in this
/// event or before it (empty if none yet).
///
/// Build expected values with [`ReceivedEvent::data`]:
///
/// ```
/// use actix_sse::test::ReceivedEvent;
///
/// let expected = ReceivedEvent::data("{\"n\":1}").event("update").id("7");
/// assert_eq!(expected.event, "update");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedEvent {
    /// The event type: `message` unless an `event` field set another.
    pub event: String,
    /// The data: every `data` line of the event, joined with LF.
    pub data: String,
    /// The last event id at this event (empty when the stream has set none yet).
    pub id: String,
}

impl ReceivedEvent {
    /// A `message` event with this data and an empty last event id.
    pub fn data(data: impl Into<String>) -> Self {
        ReceivedEvent {
            event: "message".to_owned(),
            data: data.into(),
            id: String::new(),
        }
    }

    /// With this event type.
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = event.into();
        self
    }

    /// With this last event id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }
}

impl From<&str> for ReceivedEvent {
    /// A `message` event with this data and no id.
    fn from(data: &str) -> Self {
        ReceivedEvent::data(data)
    }
}

impl From<String> for ReceivedEvent {
    /// A `message` event with this data and no id.
    fn from(data: String) -> Self {
        ReceivedEvent::data(data)
    }
}

impl From<ReceivedEvent> for Message {
    fn from(event: ReceivedEvent) -> Self {
        Message::Event(event)
    }
}

/// How an event stream's body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// The body ended normally (the final chunk) after a complete event.
    Clean,
    /// The body ended normally, but in the middle of an event (fields or a line without
    /// the empty line that ends it), which a client discards. The bytes of that event.
    Incomplete(String),
    /// The body failed (e.g. the handler panicked): the server closes the connection
    /// without the final chunk. The error's message.
    Error(String),
}

/// The WHATWG event-stream parser of the test client: bytes in, [`Message`]s out, in any
/// chunking.
///
/// ```
/// use actix_sse::test::{Message, Parser, ReceivedEvent};
///
/// let mut parser = Parser::new();
/// let mut out = Vec::new();
/// parser.feed(b"retry: 1000\r\nid: 7\rdata: a\n", &mut out);
/// parser.feed(b"data: b\n\n:\n", &mut out);
/// assert_eq!(
///     out,
///     [
///         Message::Retry(std::time::Duration::from_millis(1000)),
///         Message::Event(ReceivedEvent::data("a\nb").id("7")),
///         Message::Comment(String::new()),
///     ]
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Parser {
    /// The project's one WHATWG parser (shared with the client), keeping the lines of an
    /// unfinished event for [`Parser::finish`].
    core: sse_runtime::parse::Parser,
    frames: Vec<sse_runtime::parse::Frame>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            core: sse_runtime::parse::Parser::default().keep_pending(),
            frames: Vec::new(),
        }
    }
}

impl Parser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Parser::default()
    }

    /// Reads `bytes` (any part of the stream, continuing the previous ones) and appends
    /// what they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Message>) {
        use sse_runtime::parse::Frame;
        // No limit: every event fits.
        let _ = self.core.feed(bytes, &mut self.frames);
        out.extend(self.frames.drain(..).filter_map(|frame| match frame {
            Frame::Dispatch(block) => Some(Message::Event(ReceivedEvent {
                event: if block.event.is_empty() {
                    "message".to_owned()
                } else {
                    block.event
                },
                data: block.data?,
                id: block.last_event_id.to_string(),
            })),
            Frame::Comment(text) => Some(Message::Comment(text)),
            Frame::Retry(retry) => Some(Message::Retry(retry)),
        }));
    }

    /// The last event id so far: the latest `id` field's value (without NUL), once the
    /// empty line after it was read.
    pub fn last_event_id(&self) -> &str {
        self.core.last_event_id()
    }

    /// The stream ended: `None` if it ended between events, else the bytes of the
    /// unfinished event (which a client discards).
    pub fn finish(&self) -> Option<String> {
        self.core.finish()
    }
}

/// The response to a request made with [`get`], [`open`] or [`respond`]: its status and
/// headers, and its body read as an event stream.
pub struct EventStream {
    status: StatusCode,
    headers: HeaderMap,
    body: Option<BoxBody>,
    parser: Parser,
    ready: std::collections::VecDeque<Message>,
    /// Bytes read but not parsed (only for [`text`](Self::text)).
    raw: Vec<u8>,
    end: Option<End>,
    retry: Option<Duration>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("status", &self.status)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// Reads `response`'s body as an event stream.
    pub fn from_response<B: MessageBody + 'static>(response: HttpResponse<B>) -> Self {
        let (head, body) = response.into_parts();
        EventStream {
            status: head.status(),
            headers: head.headers().clone(),
            body: Some(body.boxed()),
            parser: Parser::new(),
            ready: Default::default(),
            raw: Vec::new(),
            end: None,
            retry: None,
        }
    }

    /// The response's status: `200` for an event stream, or what the handler answered
    /// instead before its first event (`reject!`, an `Err`, a failing extractor).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// True if the response is an event stream: `200` with `Content-Type:
    /// text/event-stream`.
    pub fn is_event_stream(&self) -> bool {
        self.status == StatusCode::OK
            && self
                .headers
                .get(actix_web::http::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes() == b"text/event-stream")
    }

    /// The next message: an event, a comment or a `retry`; `None` once the body has ended
    /// ([`end`](Self::end) tells how).
    pub async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                if let Message::Retry(retry) = message {
                    self.retry = Some(retry);
                }
                return Some(message);
            }
            let body = self.body.as_mut()?;
            let chunk = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)).await;
            let mut out = Vec::new();
            match chunk {
                Some(Ok(bytes)) => self.parser.feed(&bytes, &mut out),
                Some(Err(e)) => self.ended(End::Error(e.to_string())),
                None => self.ended(match self.parser.finish() {
                    None => End::Clean,
                    Some(rest) => End::Incomplete(rest),
                }),
            }
            self.ready.extend(out);
        }
    }

    fn ended(&mut self, end: End) {
        self.body = None;
        self.end = Some(end);
    }

    /// The next event, skipping comments and `retry` fields; `None` once the body has
    /// ended.
    pub async fn next_event(&mut self) -> Option<ReceivedEvent> {
        loop {
            if let Message::Event(event) = self.next().await? {
                return Some(event);
            }
        }
    }

    /// Reads the rest of the stream: its events, skipping comments and `retry` fields.
    pub async fn events(&mut self) -> Vec<ReceivedEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event().await {
            events.push(event);
        }
        events
    }

    /// Reads the rest of the stream, every message.
    pub async fn messages(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        while let Some(message) = self.next().await {
            messages.push(message);
        }
        messages
    }

    /// Asserts that the next event (comments and `retry` fields skipped) is `expected`: a
    /// [`ReceivedEvent`], or a string for a `message` event with that data and no id.
    ///
    /// # Panics
    ///
    /// If the event differs, or if the stream ends first.
    #[track_caller]
    pub fn assert_event(
        &mut self,
        expected: impl Into<ReceivedEvent>,
    ) -> impl Future<Output = ()> + '_ {
        let expected = expected.into();
        let caller = std::panic::Location::caller();
        async move {
            match self.next_event().await {
                Some(got) if got == expected => {}
                Some(got) => panic!("at {caller}: expected event {expected:?}, got {got:?}"),
                None => panic!(
                    "at {caller}: expected event {expected:?}, but the stream ended ({:?})",
                    self.end
                ),
            }
        }
    }

    /// Asserts that the body ends now, cleanly: no further message, the final chunk, no
    /// unfinished event.
    ///
    /// # Panics
    ///
    /// If a message comes first (a heartbeat too: read it with [`next`](Self::next)
    /// first), or the body fails or ends in the middle of an event.
    #[track_caller]
    pub fn assert_end(&mut self) -> impl Future<Output = ()> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            if let Some(message) = self.next().await {
                panic!("at {caller}: expected the end of the stream, got {message:?}");
            }
            match &self.end {
                Some(End::Clean) => {}
                end => panic!("at {caller}: expected a clean end of the stream, got {end:?}"),
            }
        }
    }

    /// How the body ended, once [`next`](Self::next) has returned `None`.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// The last event id so far (what a browser would send as `Last-Event-ID` when it
    /// reconnects; empty if the stream has set none).
    pub fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    /// The last `retry` read by [`next`](Self::next), if any: the client's reconnection
    /// time.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Reads the rest of the body as text, without parsing it (invalid UTF-8 as U+FFFD):
    /// the message of an error response, for one. Starts where parsing stopped (an
    /// unfinished line is lost).
    pub async fn text(&mut self) -> String {
        if let Some(mut body) = self.body.take() {
            while let Some(chunk) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await
            {
                match chunk {
                    Ok(bytes) => self.raw.extend_from_slice(&bytes),
                    Err(e) => {
                        self.end = Some(End::Error(e.to_string()));
                        break;
                    }
                }
            }
            self.end.get_or_insert(End::Clean);
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.raw)).into_owned()
    }
}

/// A request to a test service, built by [`get`] or [`open`]: `.await` it to send it.
#[must_use = "the request is sent when it is awaited"]
pub struct Open<'a, S> {
    app: &'a S,
    req: TestRequest,
}

impl<S> fmt::Debug for Open<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Open").finish_non_exhaustive()
    }
}

impl<'a, S> Open<'a, S> {
    /// Sends `Last-Event-ID: <id>`, as a browser does when it reconnects.
    ///
    /// # Panics
    ///
    /// If `id` contains CR, LF or NUL (no header can carry them).
    pub fn last_event_id(self, id: impl fmt::Display) -> Self {
        let value = HeaderValue::from_bytes(id.to_string().as_bytes())
            .expect("a Last-Event-ID without CR, LF or NUL");
        self.header(("last-event-id", value))
    }

    /// Adds a header to the request.
    pub fn header(mut self, header: impl TryIntoHeaderPair) -> Self {
        self.req = self.req.append_header(header);
        self
    }

    /// Changes the request in any other way (`|req| req.set_json(..)`, a cookie, peer
    /// address, app data).
    pub fn map(mut self, f: impl FnOnce(TestRequest) -> TestRequest) -> Self {
        self.req = f(self.req);
        self
    }
}

impl<'a, S, B, E> IntoFuture for Open<'a, S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = E>,
    B: MessageBody + 'static,
    E: Into<actix_web::Error>,
{
    type Output = EventStream;
    type IntoFuture = Pin<Box<dyn Future<Output = EventStream> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let Open { app, req } = self;
        let call = app.call(req.to_request());
        Box::pin(async move {
            match call.await {
                Ok(res) => EventStream::from_response(res.into_parts().1),
                Err(e) => EventStream::from_response(e.into().error_response()),
            }
        })
    }
}

/// `GET uri` on `app` (a service from [`actix_web::test::init_service`]); `.await` it for
/// the [`EventStream`]. Before that, [`Open::last_event_id`] and [`Open::header`] add
/// headers.
///
/// ```
/// use actix_sse::prelude::*;
/// use actix_web::{test, App};
///
/// #[sse("/resume")]
/// async fn resume(last: LastEventId<u64>) {
///     send!(format!("after {:?}", last.get()));
/// }
///
/// // In an `#[actix_web::test] async fn`:
/// # actix_web::rt::System::new().block_on(async {
/// let app = test::init_service(App::new().service(resume)).await;
/// let mut stream = actix_sse::test::get(&app, "/resume").last_event_id(41).await;
/// stream.assert_event("after Some(41)").await;
/// # });
/// ```
pub fn get<'a, S>(app: &'a S, uri: &str) -> Open<'a, S> {
    open(app, TestRequest::get().uri(uri))
}

/// Sends `req` (any method, body, headers) to `app` (a service from
/// [`actix_web::test::init_service`]); `.await` it for the [`EventStream`].
///
/// ```
/// use actix_sse::prelude::*;
/// use actix_web::{test, web, App};
///
/// #[sse("/complete", method = "post")]
/// async fn complete(prompt: web::Json<String>) {
///     for word in prompt.split(' ') {
///         send!(word.to_owned());
///     }
/// }
///
/// // In an `#[actix_web::test] async fn`:
/// # actix_web::rt::System::new().block_on(async {
/// let app = test::init_service(App::new().service(complete)).await;
/// let req = test::TestRequest::post().uri("/complete").set_json("a b");
/// let mut stream = actix_sse::test::open(&app, req).await;
/// let data: Vec<String> = stream.events().await.into_iter().map(|e| e.data).collect();
/// assert_eq!(data, ["a", "b"]);
/// # });
/// ```
pub fn open<S>(app: &S, req: TestRequest) -> Open<'_, S> {
    Open { app, req }
}

/// Turns `responder` (an [`Sse`](crate::Sse), what [`Sse::start`](crate::Sse::start)
/// resolves to, or any other [`Responder`]) into its response to `req` and reads it: for a
/// stream built without an `App`.
///
/// ```
/// use actix_sse::{test::respond, Event, Sse};
/// use actix_web::test::TestRequest;
///
/// // In an `#[actix_web::test] async fn`:
/// # actix_web::rt::System::new().block_on(async {
/// let sse = Sse::from_fn(|tx| async move {
///     tx.send(Event::data("hi").event("greeting")).await
/// });
/// let mut stream = respond(sse, TestRequest::default());
/// assert_eq!(stream.next_event().await.unwrap().event, "greeting");
/// stream.assert_end().await;
/// # });
/// ```
pub fn respond<R>(responder: R, req: TestRequest) -> EventStream
where
    R: Responder,
    R::Body: 'static,
{
    let req = req.to_http_request();
    EventStream::from_response(responder.respond_to(&req))
}
