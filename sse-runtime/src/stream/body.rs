//! [`Sse`]: the body's poll loop (coalescing, close, panic isolation) and its builders.

use std::{
    fmt,
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use pin_project_lite::pin_project;

use super::{
    heartbeat::Heartbeat,
    probe::Probe,
    shared::Shared,
    source::{FnSource, HandlerResult, Plain, Source, StreamItem, StreamSource, WithSerializer},
    Sender, MAX_HEARTBEAT, MIN_HEARTBEAT,
};
use crate::{
    encode,
    lifecycle::{Shutdown, Watch},
    metrics::{self, EndReason, COUNTERS},
    Event, InvalidEvent, Serializer, SseSession,
};

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
    ///   [`DEFAULT_BUFFER`](crate::DEFAULT_BUFFER), 16 KiB) are encoded but not yet taken by actix-web, which only
    ///   takes more when the socket accepts it. Memory per slow client is bounded by
    ///   `buffer_size` plus one event here, plus actix-web's own write buffer.
    /// - **Heartbeat:** on by default, a `:\n` comment every [`DEFAULT_HEARTBEAT`](crate::DEFAULT_HEARTBEAT) (15 s).
    ///   Unlike Ktor's fixed rate, it is sent only once the stream has been idle for the
    ///   period: while events flow, no heartbeat is sent. It is also how a vanished client
    ///   is noticed: a write fails and the handler is dropped, at the latest at the second
    ///   heartbeat after the client left (the first write after a close still succeeds).
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
    ///
    /// # The type parameter
    ///
    /// `S` is what drives the body: [`FnSource`] for [`Sse::from_fn`], [`StreamSource`]
    /// for [`Sse::from_stream`] and [`Sse::from_serialized_stream`]. The methods below are
    /// available for both; their bound `S: Source` names a sealed trait of this crate,
    /// implemented by those two types only, that you never need to name or implement.
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
    /// The head went out with the first heartbeat, which is the first chunk to send:
    /// sent from the heartbeat's own frame rather than copied into the buffer, which would
    /// then hold an allocation for the stream's whole life.
    heartbeat_first: bool,
    state: State,
    /// The server's graceful stop, if the stream was created on a worker of a server set
    /// up with `SseServerExt`.
    shutdown: Option<Watch>,
    /// Over HTTP/2: notices a client that left while the stream is silent.
    /// Boxed: most streams have none, and an idle stream's memory is mostly this struct.
    probe: Option<Box<Probe>>,
    /// How it ended, once it did (`Disconnect` until then).
    end: EndReason,
}

impl Drop for Core {
    fn drop(&mut self) {
        if self.shared.head_sent.get() {
            // Counted only for a stream whose head went out (that is when it was opened).
            let reason = match self.state {
                State::Finished => self.end,
                State::Panicked => EndReason::Panic,
                State::Running | State::SourceDone => EndReason::Disconnect,
            };
            reason.count();
            self.shared.trace.end(reason.as_str());
            if log::log_enabled!(target: "actix_sse", log::Level::Debug) {
                let route = self.shared.rare().and_then(|r| r.route.take());
                let route = route.as_deref().unwrap_or("-");
                log::debug!(target: "actix_sse", "SSE stream end: {route} ({reason})");
            }
        } else {
            // Before the head (an answer records its own end first): the client left.
            self.shared.trace.end("disconnect");
        }
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
                heartbeat_first: false,
                state: State::Running,
                shutdown: Shutdown::current().map(Watch::new),
                probe: None,
                end: EndReason::Disconnect,
            },
        }
    }

    /// Sets the heartbeat period (the stream's idle time before a heartbeat is sent).
    ///
    /// The period must be between [`MIN_HEARTBEAT`] (10 ms) and [`MAX_HEARTBEAT`] (24 h),
    /// the range `#[sse(heartbeat = "..")]` accepts: a period outside it is raised or
    /// lowered to the nearest bound, with a warning in the log (target `actix_sse`). To
    /// send no heartbeat, use [`no_heartbeat`](Self::no_heartbeat).
    pub fn heartbeat(mut self, period: Duration) -> Self {
        let clamped = period.clamp(MIN_HEARTBEAT, MAX_HEARTBEAT);
        if clamped != period {
            log::warn!(
                target: "actix_sse",
                "heartbeat period {period:?} is outside 10ms..=24h; using {clamped:?}"
            );
        }
        self.core
            .heartbeat
            .get_or_insert_with(Heartbeat::default)
            .period = clamped;
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
        let heartbeat = self.core.heartbeat.get_or_insert_with(Heartbeat::default);
        // An event that encodes to nothing keeps the `:` comment.
        heartbeat.set_frame((!buf.is_empty()).then(|| buf.freeze()));
        Ok(())
    }

    /// How long [`start`](Self::start) holds the response head back waiting for the first
    /// event: the time the handler's checks may take and still answer `401`, `404`, …
    /// instead of the stream. By default the server's
    /// ([`ServerSetup::head_wait`](crate::ServerSetup::head_wait)), else
    /// [`HEAD_WAIT`](crate::HEAD_WAIT) (1 s) or the first heartbeat if it is sooner; with a
    /// `head_wait`, heartbeats wait for the head. At most
    /// [`MAX_HEAD_WAIT`](crate::MAX_HEAD_WAIT) (60 s): a longer one is lowered to it.
    /// What `#[sse(head_wait = "5s")]` sets.
    pub fn head_wait(self, wait: Duration) -> Self {
        self.core
            .shared
            .rare_or_init()
            .head_wait
            .set(Some(wait.min(super::MAX_HEAD_WAIT)));
        self
    }

    /// What the log calls the handler: what `#[sse]` sets (`GET /events`).
    #[doc(hidden)]
    pub fn __label(self, label: &'static &'static str) -> Self {
        self.core.shared.label.set(label);
        self
    }

    /// Sends `retry: <ms>` first, so clients reconnect after `retry` instead of their
    /// default (3 s in browsers).
    pub fn retry(self, retry: Duration) -> Self {
        let shared = &self.core.shared;
        let mut buf = shared.buf.borrow_mut();
        // The line goes first, replacing an earlier call's; events already sent (from a
        // clone of the `Sender`) stay after it.
        let old = (shared.prefix.get() as usize).min(buf.len());
        let sent = buf.split_off(old);
        buf.clear();
        encode::retry_field(&mut buf, retry.as_millis());
        buf.extend_from_slice(b"\n");
        shared.prefix.set(buf.len() as u32);
        buf.unsplit(sent);
        drop(buf);
        self
    }

    /// Sets the back-pressure limit in bytes (default [`DEFAULT_BUFFER`](crate::DEFAULT_BUFFER)); it is also the
    /// largest coalesced chunk, give or take one event. At least 1 byte and at most 4 GiB:
    /// a limit outside is raised or lowered to the nearest bound.
    pub fn buffer_size(self, bytes: usize) -> Self {
        self.core.shared.set_limit(bytes);
        self
    }

    /// Attaches a session, so that [`SseSession::close`] ends this stream.
    pub fn with_session(mut self, session: SseSession) -> Self {
        self.core.session = Some(session);
        self
    }

    /// Over HTTP/2, with a payload taken by the handler: checks for a client that left.
    pub(crate) fn attach_probe(&mut self, req: &actix_web::HttpRequest) {
        self.core.attach_probe(req);
    }

    pub(super) fn attach_probe_pinned(self: Pin<&mut Self>, req: &actix_web::HttpRequest) {
        self.project().core.attach_probe(req);
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
        let _span = core.shared.trace.enter();
        match core.state {
            State::Finished => return Poll::Ready(None),
            State::Panicked => {
                // What was sent before the panic goes first (it is still buffered when
                // the panic came before the head, under `Sse::start`).
                if let Some(chunk) = core.take_chunk() {
                    return Poll::Ready(Some(Ok(chunk)));
                }
                return Poll::Ready(core.fail());
            }
            State::Running | State::SourceDone => {}
        }
        if std::mem::take(&mut core.heartbeat_first) {
            if let Some(frame) = core.heartbeat.as_ref().map(Heartbeat::frame) {
                metrics::add(&COUNTERS.bytes_sent, frame.len() as u64);
                core.shared.trace.chunk(0, frame.len());
                return Poll::Ready(Some(Ok(frame)));
            }
        }
        core.poll_shutdown(cx);
        core.poll_source(this.source, cx);

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
                metrics::add(&COUNTERS.heartbeats, 1);
                metrics::add(&COUNTERS.bytes_sent, frame.len() as u64);
                core.shared.trace.chunk(0, frame.len());
                return Poll::Ready(Some(Ok(frame)));
            }
        }
        if core.session_closed(cx) {
            return Poll::Ready(core.finish());
        }
        if core.probe.as_mut().is_some_and(|p| p.gone(cx)) {
            // The client left: end here (actix-web then drops the body and the handler).
            core.state = State::Finished;
            return Poll::Ready(None);
        }
        core.register_body(cx);
        Poll::Pending
    }

    /// Before the response head: polls the source until the stream must start (see
    /// [`Sse::start`]). `deadline` is the start's own timer when there is no heartbeat.
    pub(super) fn poll_start(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        deadline: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    ) -> Poll<()> {
        let this = self.project();
        let core = this.core;
        let _span = core.shared.trace.enter();
        core.poll_shutdown(cx);
        core.poll_source(this.source, cx);
        let shared = &core.shared;
        if core.state != State::Running
            || core.closed()
            || shared.committed()
            || shared.has_answer()
        {
            return Poll::Ready(());
        }
        // No event yet: the head goes out after the handler's or the server's `head_wait`
        // if one is set; else with the first heartbeat if it is due first (as that
        // heartbeat's chunk), or after `HEAD_WAIT` (alone).
        let wait = shared.head_wait().or_else(|| {
            core.shutdown
                .as_ref()
                .and_then(|s| s.shutdown().head_wait())
        });
        if wait.is_none() {
            if let Some(hb) = &mut core.heartbeat {
                if let Poll::Ready(frame) = hb.poll(cx, shared) {
                    metrics::add(&COUNTERS.heartbeats, 1);
                    let mut buf = shared.buf.borrow_mut();
                    if buf.is_empty() {
                        core.heartbeat_first = true;
                    } else {
                        // After the `retry` line.
                        buf.extend_from_slice(&frame);
                    }
                    return Poll::Ready(());
                }
            }
        }
        let sleep = deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(wait.unwrap_or(super::HEAD_WAIT))));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        if core.session_closed(cx) {
            return Poll::Ready(());
        }
        core.register_body(cx);
        Poll::Pending
    }

    /// What [`Start`](super::Start) resolves to, once [`poll_start`](Self::poll_start) is
    /// ready.
    pub(super) fn into_started(self: Pin<Box<Self>>) -> super::start::Started<S> {
        use super::start::Started;
        let shared = self.core.shared.clone();
        if let Some(answer) = shared.rare().and_then(|r| r.answer.take()) {
            shared.trace.end("answer");
            return Started::answer(answer);
        }
        if self.core.state == State::Panicked && !shared.committed() {
            shared.trace.end("panic");
            return Started::panicked();
        }
        Started::stream(self)
    }

    pub(crate) fn shared(&self) -> &Rc<Shared> {
        &self.core.shared
    }

    pub(super) fn attach_session_pinned(self: Pin<&mut Self>, session: SseSession) {
        let core = self.project().core;
        if core.session.is_none() {
            core.session = Some(session);
        }
    }
}

impl Core {
    fn attach_probe(&mut self, req: &actix_web::HttpRequest) {
        if self.probe.is_none() {
            self.probe = Probe::take(req).map(Box::new);
        }
    }

    /// The server is stopping: the last event, if set, goes after what was sent, and the
    /// stream closes (the handler is not polled again, and is dropped with the body).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) {
        let Some(watch) = &mut self.shutdown else {
            return;
        };
        if watch.poll(cx).is_pending() {
            return;
        }
        let last = watch.shutdown().last_event();
        self.shutdown = None;
        if !self.closed() && self.state == State::Running {
            if let Some(frame) = last {
                self.shared.buf.borrow_mut().extend_from_slice(&frame);
            }
        }
        self.shared.closed.set(true);
    }

    /// Polls the source, unless it is done or the stream closed; catches its panic.
    fn poll_source<S: Source>(&mut self, source: Pin<&mut S>, cx: &mut Context<'_>) {
        if self.state != State::Running || self.closed() {
            return;
        }
        self.shared.in_body.set(true);
        let polled = catch_unwind(AssertUnwindSafe(|| source.poll_fill(cx, &self.shared)));
        self.shared.in_body.set(false);
        match polled {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(())) => self.state = State::SourceDone,
            Err(payload) => {
                let msg = panic_message(&*payload);
                log::error!(target: "actix_sse", "SSE handler panicked: {msg}; ending this stream");
                self.shared.rare_or_init().panic.set(Some(msg.into()));
                self.state = State::Panicked;
            }
        }
    }

    fn session_closed(&self, cx: &mut Context<'_>) -> bool {
        match &self.session {
            Some(session) => {
                session.register(cx.waker());
                session.is_closed()
            }
            None => false,
        }
    }

    fn register_body(&self, cx: &mut Context<'_>) {
        let body_waker = match self.shared.body_waker.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        self.shared.body_waker.set(Some(body_waker));
    }

    fn closed(&self) -> bool {
        self.shared.closed.get() || self.session.as_ref().is_some_and(SseSession::is_closed)
    }

    fn take_chunk(&mut self) -> Option<Bytes> {
        let chunk = {
            let mut buf = self.shared.buf.borrow_mut();
            if buf.is_empty() {
                return None;
            }
            let chunk = buf.split().freeze();
            if chunk.len() > self.shared.limit().saturating_mul(2) {
                // One event larger than the buffer limit: let its allocation go with the
                // chunk, instead of reclaiming it for every small event that follows.
                *buf = BytesMut::new();
            }
            chunk
        };
        // The events written since the last chunk are in this one.
        let events = u64::from(self.shared.events.replace(0));
        if events != 0 {
            metrics::add(&COUNTERS.events_sent, events);
            self.shared.delivered.set(true);
        }
        metrics::add(&COUNTERS.bytes_sent, chunk.len() as u64);
        self.shared.trace.chunk(events, chunk.len());
        // The next chunk likely needs what this one did, up to the limit.
        let hint = chunk.len().min(self.shared.limit());
        self.shared.chunk_hint.set(hint as u32);
        self.shared.wake_senders();
        if let Some(hb) = &mut self.heartbeat {
            hb.rearm();
        }
        Some(chunk)
    }

    fn finish(&mut self) -> Option<Result<Bytes, SseError>> {
        if self.state != State::Finished {
            self.end = if self.shared.failed.get() {
                EndReason::Error
            } else {
                EndReason::Close
            };
        }
        self.state = State::Finished;
        self.shared.closed.set(true);
        if let Some(session) = &self.session {
            session.mark_closed();
        }
        None
    }

    fn fail(&mut self) -> Option<Result<Bytes, SseError>> {
        self.finish();
        self.end = EndReason::Panic;
        Some(Err(SseError(
            self.shared
                .rare()
                .and_then(|r| r.panic.take())
                .map(String::from)
                .unwrap_or_default(),
        )))
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
