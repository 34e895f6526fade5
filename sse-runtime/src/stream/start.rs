//! Answering before streaming: [`Sse::start`] holds the response head back until the
//! stream has something to send, so the handler can still answer `204`, `401`, `404`, …
//! instead ([`Sender::reject`]).

use std::{
    any::Any,
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use actix_web::{
    body::{EitherBody, MessageBody},
    http::{
        header::{self, HeaderValue},
        ConnectionType, StatusCode, Version,
    },
    HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, Responder,
};
use tokio::time::Sleep;

use super::{shared::Shared, source::Source, Sender, Sse};
use crate::{
    metrics::{self, COUNTERS},
    SseSession,
};

/// What a handler answered instead of its stream.
pub(crate) enum Answer {
    /// A [`Responder`], turned into a response with the request; its status if it is
    /// known without the request.
    Response(
        Box<dyn FnOnce(&HttpRequest) -> HttpResponse>,
        Option<StatusCode>,
    ),
    /// An error with a response (`ResponseError`).
    Error(actix_web::Error),
}

impl Answer {
    /// What the handler wanted to answer, for the log: `401 Unauthorized (bad token)`.
    fn describe(&self) -> String {
        match self {
            Answer::Error(e) => format!("`{}` ({e})", e.as_response_error().status_code()),
            Answer::Response(_, Some(status)) => format!("`{status}`"),
            Answer::Response(_, None) => "a response (`reject!`)".to_owned(),
        }
    }
}

impl Shared {
    /// True once the stream's status is settled: the head has gone out, or an event was
    /// written (it goes out with the head).
    pub(super) fn committed(&self) -> bool {
        self.head_sent.get() || self.buf.borrow().len() > self.prefix.get() as usize
    }

    /// Whether the handler answered instead of streaming (the answer waits to be taken).
    pub(super) fn has_answer(&self) -> bool {
        self.rare().is_some_and(|rare| {
            let answer = rare.answer.take();
            let has = answer.is_some();
            rare.answer.set(answer);
            has
        })
    }

    /// The handler's answer instead of the stream. Too late once the head has gone out
    /// or an event was sent: then it is logged and the stream ends, which it does in
    /// either case.
    pub(super) fn answer(&self, answer: Answer) {
        if self.committed() {
            self.failed.set(true);
            let handler = match *self.label.get() {
                "" => "SSE handler".to_owned(),
                label => format!("SSE handler `{label}`"),
            };
            if !self.delivered.get() && self.events.get() == 0 {
                // The head went out because the handler took longer than the head waits:
                // the client got `200` and an empty stream, which an `EventSource` takes
                // for a dropped connection and reconnects to, forever.
                let wait = match self.head_wait() {
                    Some(wait) => format!("{wait:?}"),
                    None => {
                        "the server's `head_wait`, or 1 s, or until the first heartbeat".to_owned()
                    }
                };
                log::warn!(
                    target: "actix_sse",
                    "{handler} answered {} after its response head had gone out with no \
                     event: the client got `200` and an empty stream instead. The head waits \
                     for a first event at most {wait}; let it wait longer for this handler's \
                     checks with `#[sse(head_wait = \"5s\")]` (`Sse::head_wait`), or for the \
                     whole server with `ServerSetup::head_wait`",
                    answer.describe()
                );
            } else {
                match answer {
                    Answer::Error(e) => {
                        log::error!(target: "actix_sse", "{handler} returned an error: {e}");
                    }
                    Answer::Response(..) => log::warn!(
                        target: "actix_sse",
                        "{handler} rejected the request after its first event: the `200` \
                         head has gone out, so the stream ends instead"
                    ),
                }
            }
        } else {
            self.rare_or_init().answer.set(Some(answer));
        }
        self.closed.set(true);
        self.wake_body();
    }
}

impl Sender {
    /// Answers the request with `response` (any [`Responder`]: `HttpResponse::NoContent()`,
    /// `HttpResponse::NotFound().body(..)`, …) instead of the event stream, and ends the
    /// stream. What `reject!(..)` calls.
    ///
    /// It can only work while no event has been sent and the response head has not gone
    /// out (see [`Sse::start`]; [`is_started`](Self::is_started) tells). Later, the head
    /// (`200`) is already on its way: the stream just ends, and a warning is logged
    /// (target `actix_sse`).
    pub fn reject<R: Responder + 'static>(&self, response: R) {
        // A response, or its builder, is one already: its status is known for the log.
        let mut response: Box<dyn Any> = Box::new(response);
        if let Some(builder) = response.downcast_mut::<HttpResponseBuilder>() {
            response = Box::new(builder.finish());
        }
        let answer = match response.downcast::<HttpResponse>() {
            Ok(response) => {
                let status = response.status();
                Answer::Response(Box::new(move |_| *response), Some(status))
            }
            Err(response) => {
                let response = *response.downcast::<R>().expect("the type put in");
                Answer::Response(
                    Box::new(move |req| response.respond_to(req).map_into_boxed_body()),
                    None,
                )
            }
        };
        self.shared.answer(answer);
    }

    /// Answers the request with `error`'s response (`actix_web::Error`, or any
    /// `ResponseError` such as `ErrorUnauthorized(..)`) instead of the event stream, and
    /// ends the stream. Like [`reject`](Self::reject), only before the first event; later,
    /// the error is logged and the stream ends.
    pub fn reject_error(&self, error: impl Into<actix_web::Error>) {
        self.shared.answer(Answer::Error(error.into()));
    }

    /// True once the stream's status is settled: an event was sent, or the response head
    /// has gone out. From then on, [`reject`](Self::reject) only ends the stream.
    pub fn is_started(&self) -> bool {
        self.shared.committed()
    }
}

impl<S: Source> Sse<S> {
    /// Waits until the stream starts, so that the handler can still answer otherwise; the
    /// result is the [`Responder`] to return.
    ///
    /// The body's source is polled right away (in the handler's future, before actix-web
    /// writes the response head), until one of:
    ///
    /// - **the first event** is sent: `200`, and that event goes out with the head (with
    ///   whatever else was sent at once);
    /// - **the source ends**: `200` and an empty stream, or — if the handler
    ///   [rejected](Sender::reject) the request or returned an error with a response before
    ///   any event — that response;
    /// - **[`HEAD_WAIT`](crate::HEAD_WAIT) (1 s) has passed**, or the first heartbeat is
    ///   due if that is sooner: `200` (with the heartbeat as the first chunk). So a check
    ///   inside the handler (a token lookup, a database query) can take up to a second and
    ///   still answer `401`, and a handler that waits for something to send still opens the
    ///   client's `EventSource` within a second;
    /// - the stream is closed ([`Sender::close`], an attached [`SseSession`]): `200` and an
    ///   empty stream.
    ///
    /// A panic before the first event is answered `500 Internal Server Error` (and
    /// logged). The `retry` line is not an event: it goes out with the head.
    ///
    /// Attach the request's [`SseSession`] with [`with_session`](Self::with_session) first,
    /// so that it reads as closed if the client leaves before the head (the `#[sse]` macro
    /// does it for a handler's `SseSession` parameter); otherwise the request's session is
    /// attached when the head goes out. Returning the `Sse` itself as the `Responder` sends
    /// the head at once instead.
    ///
    /// ```
    /// use actix_sse::{Event, Sse};
    /// use actix_web::{get, HttpRequest, HttpResponse, Responder};
    ///
    /// #[get("/jobs/{id}")]
    /// async fn job(req: HttpRequest) -> impl Responder {
    ///     let done = req.match_info().get("id") == Some("finished");
    ///     Sse::from_fn(move |tx| async move {
    ///         if done {
    ///             // Nothing to stream: tell the EventSource to stop reconnecting.
    ///             return tx.reject(HttpResponse::NoContent());
    ///         }
    ///         let _ = tx.send(Event::data("working")).await;
    ///     })
    ///     .start()
    ///     .await
    /// }
    /// ```
    pub fn start(self) -> Start<S> {
        Start {
            sse: Some(Box::pin(self)),
            deadline: None,
        }
    }
}

/// The future of [`Sse::start`]: resolves to the response to send.
#[must_use = "a `Start` does nothing unless awaited"]
pub struct Start<S> {
    sse: Option<Pin<Box<Sse<S>>>>,
    /// When the head goes out without an event (`HEAD_WAIT`).
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S: Source> Future for Start<S> {
    type Output = Started<S>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Started<S>> {
        let this = &mut *self;
        let sse = this
            .sse
            .as_mut()
            .expect("`Start` polled after it completed");
        std::task::ready!(sse.as_mut().poll_start(cx, &mut this.deadline));
        let sse = this.sse.take().expect("checked above");
        Poll::Ready(sse.into_started())
    }
}

impl<S> fmt::Debug for Start<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Start").finish_non_exhaustive()
    }
}

/// What [`Sse::start`] resolved to: the event stream, or the handler's answer instead. A
/// [`Responder`].
pub struct Started<S>(Inner<S>);

enum Inner<S> {
    Stream(Pin<Box<Sse<S>>>),
    Answer(Answer),
    Panicked,
}

impl<S> Started<S> {
    pub(super) fn stream(sse: Pin<Box<Sse<S>>>) -> Self {
        Started(Inner::Stream(sse))
    }

    pub(super) fn answer(answer: Answer) -> Self {
        Started(Inner::Answer(answer))
    }

    pub(super) fn panicked() -> Self {
        Started(Inner::Panicked)
    }

    /// True if the response is the event stream, false if it is the handler's answer.
    pub fn is_stream(&self) -> bool {
        matches!(self.0, Inner::Stream(_))
    }
}

impl<S> fmt::Debug for Started<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.0 {
            Inner::Stream(_) => "stream",
            Inner::Answer(Answer::Response(..)) => "answer",
            Inner::Answer(Answer::Error(_)) => "error",
            Inner::Panicked => "panicked",
        };
        f.debug_tuple("Started").field(&what).finish()
    }
}

impl<S: Source + 'static> Responder for Started<S> {
    type Body = EitherBody<Pin<Box<Sse<S>>>>;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse<Self::Body> {
        match self.0 {
            Inner::Stream(mut sse) => {
                if let Some(session) = req.extensions().get::<SseSession>() {
                    sse.as_mut().attach_session_pinned(session.clone());
                }
                sse.as_mut().attach_probe_pinned(req);
                let shared = sse.shared().clone();
                stream_response(req, sse, &shared).map_into_left_body()
            }
            Inner::Answer(Answer::Response(respond, _)) => respond(req).map_into_right_body(),
            Inner::Answer(Answer::Error(e)) => HttpResponse::from_error(e).map_into_right_body(),
            Inner::Panicked => HttpResponse::InternalServerError()
                .finish()
                .map_into_right_body(),
        }
    }
}

/// `200 OK` with the event stream's headers (see the `Responder` impl of [`Sse`]); the
/// head is sent from here on.
pub(crate) fn stream_response<B: MessageBody>(
    req: &HttpRequest,
    body: B,
    shared: &Shared,
) -> HttpResponse<B> {
    shared.head_sent.set(true);
    metrics::add(&COUNTERS.streams_opened, 1);
    shared.trace.started(req);
    if log::log_enabled!(target: "actix_sse", log::Level::Debug) {
        let route = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
        log::debug!(target: "actix_sse", "SSE stream start: {route}");
        shared.rare_or_init().route.set(Some(route.into()));
    }
    let mut res = HttpResponse::with_body(StatusCode::OK, body);
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
