//! [`Sse`]: the streaming body that drives a handler (or a `Stream`) from its own
//! `poll_next`, with heartbeat, back-pressure, coalescing, close and panic isolation.

use std::{
    cell::{Cell, RefCell},
    fmt,
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    rc::Rc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::{encode, Event, IntoEvent, InvalidEvent, SerializeError, Serializer, SseSession};

/// Default heartbeat period.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Default back-pressure limit: bytes encoded but not yet taken by actix-web, per stream.
pub const DEFAULT_BUFFER: usize = 32 * 1024;

const DEFAULT_HEARTBEAT_FRAME: &[u8] = b":\n";

/// State shared by a stream's body and its [`Sender`]s. Single-threaded: actix-web runs a
/// connection's handler and body on one worker thread. `pub` only because the sealed
/// [`Source`] trait names it; it cannot be named outside this crate.
#[allow(unreachable_pub)]
pub struct Shared {
    buf: RefCell<BytesMut>,
    limit: Cell<usize>,
    closed: Cell<bool>,
    /// True while the body itself polls the handler: a full buffer then needs no waker,
    /// because the body polls the handler again right after the flush.
    in_body: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
    /// The size of the last chunk handed to actix-web: what the next one will likely need.
    chunk_hint: Cell<usize>,
    /// The body's task, for a `close()` from another task on this thread.
    body_waker: RefCell<Option<Waker>>,
}

impl Shared {
    fn new() -> Rc<Self> {
        Rc::new(Self {
            buf: RefCell::new(BytesMut::new()),
            limit: Cell::new(DEFAULT_BUFFER),
            closed: Cell::new(false),
            in_body: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
            chunk_hint: Cell::new(0),
            body_waker: RefCell::new(None),
        })
    }

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        if self.closed.get() {
            return Poll::Ready(Err(SendError::Closed));
        }
        if self.buf.borrow().len() < self.limit.get() {
            return Poll::Ready(Ok(()));
        }
        if !self.in_body.get() {
            let mut waiters = self.waiters.borrow_mut();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        Poll::Pending
    }

    /// Runs `write` on the buffer; whatever it wrote is removed again if it fails or
    /// panics (user code — `IntoEvent` impls, serializers — runs inside), so a refused
    /// event leaves no partial frame behind.
    fn write<E>(&self, write: impl FnOnce(&mut BytesMut) -> Result<(), E>) -> Result<(), E> {
        struct Rollback<'a> {
            buf: &'a mut BytesMut,
            start: usize,
            armed: bool,
        }
        impl Drop for Rollback<'_> {
            fn drop(&mut self) {
                if self.armed {
                    self.buf.truncate(self.start);
                }
            }
        }
        let mut buf = self.buf.borrow_mut();
        if buf.is_empty() {
            // The last chunk has been copied out by actix-web and dropped, so the whole
            // allocation is ours again: `reserve` on an empty buffer moves it back to the
            // front of that allocation without copying or allocating. Left alone, the next
            // chunk would fill the old allocation's tail and then be moved to the front.
            let hint = self.chunk_hint.get();
            if buf.capacity() < hint {
                buf.reserve(hint);
            }
        }
        let start = buf.len();
        let mut guard = Rollback {
            buf: &mut buf,
            start,
            armed: true,
        };
        let result = write(guard.buf);
        guard.armed = result.is_err();
        result
    }

    /// After a send or close from another task on this thread (a `Sender` clone moved into
    /// a spawned local task), the body must be woken to flush or end. From the handler
    /// itself it is not needed: the body looks right after polling it.
    fn wake_body(&self) {
        if !self.in_body.get() {
            if let Some(waker) = self.body_waker.borrow_mut().take() {
                waker.wake();
            }
        }
    }

    fn wake_senders(&self) {
        let mut waiters = self.waiters.borrow_mut();
        if !waiters.is_empty() {
            for w in waiters.drain(..) {
                w.wake();
            }
        }
    }
}

/// Sends events into one stream: what `send!` calls. Cheap to clone; not `Send` (it lives
/// on the connection's worker thread, like the handler).
///
/// Sending waits while the stream's buffer holds [`DEFAULT_BUFFER`] bytes (or the limit set
/// with [`Sse::buffer_size`]) that the client has not taken yet: that is the back-pressure.
///
/// ```
/// use actix_sse::{Event, Json, SendError, Sse};
///
/// let body = Sse::from_fn(|tx| async move {
///     tx.send("plain data").await?;
///     tx.send(Event::data("typed").event("update").id(1)).await?;
///     tx.send_serialized(&[1, 2, 3], &Json, Event::new().event("numbers")).await?;
///     // Refused before anything is written; the stream goes on.
///     let refused = tx.send(Event::data("x").id("bad\nid")).await;
///     assert!(matches!(refused, Err(SendError::Invalid(_))));
///     tx.close();
///     Ok::<_, SendError>(())
/// });
/// # drop(body);
/// ```
#[derive(Clone)]
pub struct Sender {
    shared: Rc<Shared>,
}

impl Sender {
    /// Sends one event: an [`Event`], or a string as its `data`.
    ///
    /// Errors: [`SendError::Invalid`] if the event would inject fields (nothing is written
    /// and the stream goes on), [`SendError::Closed`] once the stream has ended.
    pub async fn send(&self, event: impl IntoEvent) -> Result<(), SendError> {
        std::future::poll_fn(|cx| self.shared.poll_ready(cx)).await?;
        self.commit(|buf| event.encode_into(buf).map_err(SendError::Invalid))
    }

    /// Sends `value` (an [`Event`] or a string) with the `event`, `id`, `retry` and comment
    /// that `fields` sets, replacing the value's own: `send!(text, id = 7)`. A string is
    /// written straight into the buffer, like [`send`](Self::send).
    pub async fn send_with(&self, value: impl IntoEvent, fields: Event) -> Result<(), SendError> {
        std::future::poll_fn(|cx| self.shared.poll_ready(cx)).await?;
        self.commit(|buf| {
            value
                .encode_with_fields(fields, buf)
                .map_err(SendError::Invalid)
        })
    }

    /// Sends `value` through `serializer` as the event's data, with the other fields
    /// (`event`, `id`, `retry`, comment) taken from `fields` (its data, if any, is ignored).
    pub async fn send_serialized<T, S>(
        &self,
        value: &T,
        serializer: &S,
        fields: Event,
    ) -> Result<(), SendError>
    where
        T: ?Sized,
        S: Serializer<T> + ?Sized,
    {
        std::future::poll_fn(|cx| self.shared.poll_ready(cx)).await?;
        self.commit(|buf| encode_serialized(buf, value, serializer, &fields))
    }

    /// Every send, once there is room: write the whole frame or nothing, and let the body
    /// know. (Not an `async fn` itself: a nested future costs the per-event path ~5
    /// instructions under callgrind.)
    fn commit(
        &self,
        write: impl FnOnce(&mut BytesMut) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        self.shared.write(write)?;
        self.shared.wake_body();
        Ok(())
    }

    /// Ends the stream without sending anything; events already sent are delivered first.
    pub fn close(&self) {
        self.shared.closed.set(true);
        self.shared.wake_body();
    }

    /// True once the stream has ended or was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.get()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

fn encode_serialized<T: ?Sized, S: Serializer<T> + ?Sized>(
    buf: &mut BytesMut,
    value: &T,
    serializer: &S,
    fields: &Event,
) -> Result<(), SendError> {
    fields.validate().map_err(SendError::Invalid)?;
    encode::fields(buf, fields);
    serializer
        .write_data(value, buf)
        .map_err(SendError::Serialize)?;
    buf.extend_from_slice(b"\n");
    Ok(())
}

/// Why an event was not sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The event would inject fields or events; nothing was written, the stream goes on.
    Invalid(InvalidEvent),
    /// The serializer failed; nothing was written, the stream goes on.
    Serialize(SerializeError),
    /// The stream has ended (closed, or the client went away).
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Invalid(e) => e.fmt(f),
            SendError::Serialize(e) => e.fmt(f),
            SendError::Closed => f.write_str("SSE stream is closed"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Invalid(e) => Some(e),
            SendError::Serialize(e) => Some(e),
            SendError::Closed => None,
        }
    }
}

/// So that `send!(..)?` works in handlers returning `actix_web::Result<()>`. The stream's
/// `200` head has gone out by then: the error is only logged, and it ends the stream.
impl actix_web::ResponseError for SendError {}

impl From<InvalidEvent> for SendError {
    fn from(e: InvalidEvent) -> Self {
        SendError::Invalid(e)
    }
}

impl From<SerializeError> for SendError {
    fn from(e: SerializeError) -> Self {
        SendError::Serialize(e)
    }
}

/// The error that ends a body abnormally (the connection is closed without the final
/// chunk): the handler panicked.
#[derive(Debug)]
pub struct SseError(String);

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SSE handler panicked: {}", self.0)
    }
}

impl std::error::Error for SseError {}

mod sealed {
    use super::*;

    /// What drives an [`Sse`] body: a handler future or a stream. Sealed.
    pub trait Source {
        #[doc(hidden)]
        fn poll_fill(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &Shared) -> Poll<()>;
    }
}
pub(crate) use sealed::Source;

/// What a push-style handler may return: `()` or `Result<(), E>`. An error is logged (at
/// `error` level, target `actix_sse`) and ends the stream cleanly.
#[diagnostic::on_unimplemented(
    message = "an SSE handler cannot return `{Self}`",
    label = "return `()` or `Result<(), E>` here",
    note = "a push-style handler sends with `send!` and returns `()` or `Result<(), E>` with `E: Display`",
    note = "to return a stream of events instead, declare `-> impl Stream<Item = Event>`"
)]
pub trait HandlerResult {
    /// `Err` with the message to log.
    fn into_result(self) -> Result<(), String>;
}

impl HandlerResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> HandlerResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

pin_project! {
    /// The [`Source`] of [`Sse::from_fn`]: a handler future.
    pub struct FnSource<Fut> {
        #[pin]
        fut: Fut,
    }
}

impl<Fut> Source for FnSource<Fut>
where
    Fut: Future,
    Fut::Output: HandlerResult,
{
    fn poll_fill(self: Pin<&mut Self>, cx: &mut Context<'_>, _: &Shared) -> Poll<()> {
        let out = std::task::ready!(self.project().fut.poll(cx));
        if let Err(e) = out.into_result() {
            log::error!(target: "actix_sse", "SSE handler returned an error: {e}");
        }
        Poll::Ready(())
    }
}

/// An item of a stream given to [`Sse::from_stream`]: anything [`IntoEvent`], or a
/// `Result` of it. An `Err` item is logged and ends the stream cleanly (like `?` in a
/// handler); an invalid event is logged and skipped.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an item of an SSE stream",
    label = "the stream's items must be events",
    note = "yield `Event`s or strings (the event's data), or `Result`s of them",
    note = "to yield other values, serialize them: `#[sse(.., serialize = json)]` or `serialize = path::to::fn`"
)]
pub trait StreamItem {
    #[doc(hidden)]
    fn encode_item(self, buf: &mut BytesMut) -> Result<(), ItemError>;
}

impl<T: IntoEvent> StreamItem for T {
    fn encode_item(self, buf: &mut BytesMut) -> Result<(), ItemError> {
        self.encode_into(buf)
            .map_err(|e| ItemError::Skip(e.to_string()))
    }
}

impl<T: IntoEvent, E: fmt::Display> StreamItem for Result<T, E> {
    fn encode_item(self, buf: &mut BytesMut) -> Result<(), ItemError> {
        match self {
            Ok(item) => item.encode_item(buf),
            Err(e) => Err(ItemError::End(e.to_string())),
        }
    }
}

#[doc(hidden)]
#[derive(Debug)]
pub enum ItemError {
    Skip(String),
    End(String),
}

/// How a stream's items are encoded: as events ([`Plain`]) or through a serializer
/// ([`WithSerializer`]).
pub trait ItemEncoder<I> {
    #[doc(hidden)]
    fn encode(&self, item: I, buf: &mut BytesMut) -> Result<(), ItemError>;
}

/// Items are [`StreamItem`]s: events, strings, or `Result`s of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl<I: StreamItem> ItemEncoder<I> for Plain {
    fn encode(&self, item: I, buf: &mut BytesMut) -> Result<(), ItemError> {
        item.encode_item(buf)
    }
}

/// Items are values for the serializer `S`; a serializer error is logged and the item
/// skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct WithSerializer<S>(pub S);

impl<T, S: Serializer<T>> ItemEncoder<T> for WithSerializer<S> {
    fn encode(&self, item: T, buf: &mut BytesMut) -> Result<(), ItemError> {
        encode_serialized(buf, &item, &self.0, &Event::new())
            .map_err(|e| ItemError::Skip(e.to_string()))
    }
}

pin_project! {
    /// The [`Source`] of [`Sse::from_stream`].
    pub struct StreamSource<St, Enc> {
        #[pin]
        stream: St,
        encoder: Enc,
    }
}

impl<St, Enc> Source for StreamSource<St, Enc>
where
    St: Stream,
    Enc: ItemEncoder<St::Item>,
{
    fn poll_fill(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &Shared) -> Poll<()> {
        let mut this = self.project();
        // Take every ready item, up to the buffer limit: they go out as one chunk.
        while out.buf.borrow().len() < out.limit.get() {
            let Some(item) = std::task::ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(());
            };
            match out.write(|buf| this.encoder.encode(item, buf)) {
                Ok(()) => {}
                Err(ItemError::Skip(e)) => {
                    log::warn!(target: "actix_sse", "SSE stream item skipped: {e}");
                }
                Err(ItemError::End(e)) => {
                    log::error!(target: "actix_sse", "SSE stream ended by an error item: {e}");
                    return Poll::Ready(());
                }
            }
        }
        // Full: the body flushes and polls again, no waker needed.
        Poll::Pending
    }
}

struct Heartbeat {
    period: Duration,
    frame: Bytes,
    /// Created on the first poll (it needs the runtime), then only reset: one timer per
    /// stream for its whole life.
    sleep: Option<Pin<Box<Sleep>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    SourceDone,
    Panicked,
    Finished,
}

pin_project! {
    /// A Server-Sent Events response body, driven by a handler future or a `Stream`.
    ///
    /// `Sse` is an actix-web [`Responder`](actix_web::Responder) and
    /// [`MessageBody`](actix_web::body::MessageBody). It polls its source from its own
    /// `poll_next`: no task is spawned per connection, and when the client goes away and
    /// actix-web drops the body, the handler future is dropped with it (its locals' `Drop`
    /// runs).
    ///
    /// # Behaviour
    ///
    /// - **Coalescing:** events that are ready together go out as one chunk, up to the
    ///   buffer limit.
    /// - **Back-pressure:** sending waits while `buffer_size` bytes (default
    ///   [`DEFAULT_BUFFER`], 32 KiB) are encoded but not yet taken by actix-web, which only
    ///   takes more when the socket accepts it. Memory per slow client is bounded by
    ///   `buffer_size` plus one event here, plus actix-web's own write buffer.
    /// - **Heartbeat:** on by default, a `:\n` comment every [`DEFAULT_HEARTBEAT`] (15 s).
    ///   Unlike Ktor's fixed rate, it is sent only once the stream has been idle for the
    ///   period: while events flow, no heartbeat is sent. It is also how a vanished client
    ///   is noticed: at the latest at the next heartbeat the write fails and the handler is
    ///   dropped.
    /// - **Close:** [`Sender::close`], an attached [`SseSession`], or the source ending
    ///   ends the body cleanly (final chunk) after delivering what was sent.
    /// - **Faults:** a panic in the source is caught and logged (`error`, target
    ///   `actix_sse`); what was sent before it is delivered, then the body ends with
    ///   [`SseError`] (actix-web closes that connection). Other streams and the worker
    ///   are untouched.
    ///
    /// # Examples
    ///
    /// ```
    /// use actix_sse::{Event, Sse};
    /// use actix_web::{get, Responder};
    /// use std::time::Duration;
    ///
    /// #[get("/ticks")]
    /// async fn ticks() -> impl Responder {
    ///     Sse::from_fn(|tx| async move {
    ///         for i in 0..3 {
    ///             tx.send(Event::data(format!("tick {i}")).id(i)).await?;
    ///             tokio::time::sleep(Duration::from_secs(1)).await;
    ///         }
    ///         Ok::<_, actix_sse::SendError>(())
    ///     })
    ///     .heartbeat(Duration::from_secs(5))
    /// }
    /// ```
    pub struct Sse<S> {
        #[pin]
        source: S,
        core: Core,
    }
}

struct Core {
    shared: Rc<Shared>,
    session: Option<SseSession>,
    heartbeat: Option<Heartbeat>,
    retry: Option<Duration>,
    started: bool,
    state: State,
    panic: Option<String>,
}

impl Drop for Core {
    fn drop(&mut self) {
        self.shared.closed.set(true);
        if let Some(session) = &self.session {
            session.mark_closed();
        }
        self.shared.wake_senders();
    }
}

impl<Fut> Sse<FnSource<Fut>>
where
    Fut: Future,
    Fut::Output: HandlerResult,
{
    /// A stream driven by a push-style handler: `f` gets the [`Sender`] and returns the
    /// future that sends. The future ending ends the stream.
    pub fn from_fn<F>(f: F) -> Self
    where
        F: FnOnce(Sender) -> Fut,
    {
        let shared = Shared::new();
        let fut = f(Sender {
            shared: shared.clone(),
        });
        Sse::new(FnSource { fut }, shared)
    }
}

impl<St> Sse<StreamSource<St, Plain>>
where
    St: Stream,
    St::Item: StreamItem,
{
    /// A stream of events (or strings, or `Result`s of them), e.g. an
    /// `async_stream::stream!` block or a channel receiver.
    pub fn from_stream(stream: St) -> Self {
        Sse::new(
            StreamSource {
                stream,
                encoder: Plain,
            },
            Shared::new(),
        )
    }
}

impl<St, S> Sse<StreamSource<St, WithSerializer<S>>>
where
    St: Stream,
    S: Serializer<St::Item>,
{
    /// A stream of values sent through `serializer` (e.g. [`Json`](crate::Json)).
    pub fn from_serialized_stream(stream: St, serializer: S) -> Self {
        Sse::new(
            StreamSource {
                stream,
                encoder: WithSerializer(serializer),
            },
            Shared::new(),
        )
    }
}

impl<S: Source> Sse<S> {
    fn new(source: S, shared: Rc<Shared>) -> Self {
        Sse {
            source,
            core: Core {
                shared,
                session: None,
                heartbeat: Some(Heartbeat::default()),
                retry: None,
                started: false,
                state: State::Running,
                panic: None,
            },
        }
    }

    /// Sets the heartbeat period (the stream's idle time before a heartbeat is sent).
    pub fn heartbeat(mut self, period: Duration) -> Self {
        self.core
            .heartbeat
            .get_or_insert_with(Heartbeat::default)
            .period = period;
        self
    }

    /// Turns the heartbeat off. A vanished client is then noticed only at the next event.
    pub fn no_heartbeat(mut self) -> Self {
        self.core.heartbeat = None;
        self
    }

    /// Sends `event` as the heartbeat instead of the `:\n` comment (Ktor's
    /// `heartbeat { event = .. }`). Turns the heartbeat on if it was off.
    ///
    /// An invalid event is refused: the error is returned and the stream is not built.
    /// An event with no field keeps the `:\n` comment (an empty write would end the body).
    pub fn heartbeat_event(mut self, event: &Event) -> Result<Self, InvalidEvent> {
        self.set_heartbeat_event(event)?;
        Ok(self)
    }

    /// [`heartbeat_event`](Self::heartbeat_event) for generated code: an invalid event is
    /// logged and the default heartbeat kept.
    #[doc(hidden)]
    pub fn heartbeat_event_or_log(mut self, event: &Event) -> Self {
        if let Err(e) = self.set_heartbeat_event(event) {
            log::error!(target: "actix_sse", "heartbeat event refused, sending `:` comments: {e}");
        }
        self
    }

    fn set_heartbeat_event(&mut self, event: &Event) -> Result<(), InvalidEvent> {
        let mut buf = BytesMut::new();
        event.encode(&mut buf)?;
        let frame = if buf.is_empty() {
            Bytes::from_static(DEFAULT_HEARTBEAT_FRAME)
        } else {
            buf.freeze()
        };
        self.core
            .heartbeat
            .get_or_insert_with(Heartbeat::default)
            .frame = frame;
        Ok(())
    }

    /// Sends `retry: <ms>` first, so clients reconnect after `retry` instead of their
    /// default (3 s in browsers).
    pub fn retry(mut self, retry: Duration) -> Self {
        self.core.retry = Some(retry);
        self
    }

    /// Sets the back-pressure limit in bytes (default [`DEFAULT_BUFFER`]); it is also the
    /// largest coalesced chunk, give or take one event.
    pub fn buffer_size(self, bytes: usize) -> Self {
        self.core.shared.limit.set(bytes.max(1));
        self
    }

    /// Attaches a session, so that [`SseSession::close`] ends this stream.
    pub fn with_session(mut self, session: SseSession) -> Self {
        self.core.session = Some(session);
        self
    }

    pub(crate) fn attach_session(&mut self, session: SseSession) {
        if self.core.session.is_none() {
            self.core.session = Some(session);
        }
    }

    pub(crate) fn poll_chunk(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, SseError>>> {
        let this = self.project();
        let core = this.core;
        match core.state {
            State::Finished => return Poll::Ready(None),
            State::Panicked => return Poll::Ready(core.fail()),
            State::Running | State::SourceDone => {}
        }
        if !core.started {
            core.started = true;
            if let Some(retry) = core.retry {
                let mut buf = core.shared.buf.borrow_mut();
                encode::retry_field(&mut buf, retry.as_millis());
                buf.extend_from_slice(b"\n");
            }
        }

        if core.state == State::Running && !core.closed() {
            core.shared.in_body.set(true);
            let polled = catch_unwind(AssertUnwindSafe(|| this.source.poll_fill(cx, &core.shared)));
            core.shared.in_body.set(false);
            match polled {
                Ok(Poll::Pending) => {}
                Ok(Poll::Ready(())) => core.state = State::SourceDone,
                Err(payload) => {
                    let msg = panic_message(&*payload);
                    log::error!(target: "actix_sse", "SSE handler panicked: {msg}; ending this stream");
                    core.panic = Some(msg);
                    core.state = State::Panicked;
                }
            }
        }

        if let Some(chunk) = core.take_chunk() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        match core.state {
            State::Panicked => return Poll::Ready(core.fail()),
            State::SourceDone => return Poll::Ready(core.finish()),
            _ if core.closed() => return Poll::Ready(core.finish()),
            _ => {}
        }

        if let Some(hb) = &mut core.heartbeat {
            if let Poll::Ready(frame) = hb.poll(cx, &core.shared) {
                return Poll::Ready(Some(Ok(frame)));
            }
        }
        if let Some(session) = &core.session {
            session.register(cx.waker());
            if session.is_closed() {
                return Poll::Ready(core.finish());
            }
        }
        let mut body_waker = core.shared.body_waker.borrow_mut();
        match &*body_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *body_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Core {
    fn closed(&self) -> bool {
        self.shared.closed.get() || self.session.as_ref().is_some_and(SseSession::is_closed)
    }

    fn take_chunk(&mut self) -> Option<Bytes> {
        let chunk = {
            let mut buf = self.shared.buf.borrow_mut();
            if buf.is_empty() {
                return None;
            }
            buf.split().freeze()
        };
        self.shared.chunk_hint.set(chunk.len());
        self.shared.wake_senders();
        if let Some(hb) = &mut self.heartbeat {
            if let Some(sleep) = &mut hb.sleep {
                // Idle-based heartbeat: push the deadline out. `reset` re-arms the same
                // timer entry, no allocation.
                sleep.as_mut().reset(Instant::now() + hb.period);
            }
        }
        Some(chunk)
    }

    fn finish(&mut self) -> Option<Result<Bytes, SseError>> {
        self.state = State::Finished;
        self.shared.closed.set(true);
        if let Some(session) = &self.session {
            session.mark_closed();
        }
        None
    }

    fn fail(&mut self) -> Option<Result<Bytes, SseError>> {
        self.finish();
        Some(Err(SseError(self.panic.take().unwrap_or_default())))
    }
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            period: DEFAULT_HEARTBEAT,
            frame: Bytes::from_static(DEFAULT_HEARTBEAT_FRAME),
            sleep: None,
        }
    }
}

impl Heartbeat {
    fn poll(&mut self, cx: &mut Context<'_>, shared: &Shared) -> Poll<Bytes> {
        let period = self.period;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(period)));
        std::task::ready!(sleep.as_mut().poll(cx));
        sleep.as_mut().reset(Instant::now() + period);
        // An idle stream should not keep the capacity of a past burst.
        let mut buf = shared.buf.borrow_mut();
        if buf.capacity() > 4096 {
            *buf = BytesMut::new();
            shared.chunk_hint.set(0);
        }
        Poll::Ready(self.frame.clone())
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl<S> fmt::Debug for Sse<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sse")
            .field("state", &self.core.state)
            .field("buffered", &self.core.shared.buf.borrow().len())
            .finish_non_exhaustive()
    }
}
