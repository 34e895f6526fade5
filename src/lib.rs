//! Declarative Server-Sent Events for actix-web.
//!
//! Annotate an `async fn` with [`#[sse]`](macro@sse), call [`send!`] in its body, and
//! register it like any actix-web service. The stream is framed by the WHATWG rules, kept
//! alive by heartbeats, paced by the client (back-pressure), dropped as soon as the client
//! leaves, and ends cleanly when the function returns.
//!
//! ```no_run
//! use actix_sse::prelude::*;
//! use actix_web::{App, HttpServer};
//! use std::time::Duration;
//!
//! #[sse("/events", heartbeat = "15s")]
//! async fn events() {
//!     for i in 0..6 {
//!         send!(format!("this is SSE #{i}"), id = i);
//!         tokio::time::sleep(Duration::from_secs(1)).await;
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     HttpServer::new(|| App::new().service(events))
//!         .sse_defaults() // notice vanished and stuck clients promptly
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! `curl -N http://127.0.0.1:8080/events` then prints `id: 0`, `data: this is SSE #0`, and
//! so on, one event per second.
//!
//! The pieces:
//!
//! - [`macro@sse`]: the attribute (path, heartbeat, retry, serializer), with [`send!`] and
//!   [`close!`] inside its body; handlers take any actix-web extractor, and may return a
//!   `Stream` of events instead of sending them;
//! - [`Channels`]: one event to many subscribers, with exact replay from a client's
//!   `Last-Event-ID` ([`LastEventId`]); in-process, or on Redis with the `redis` feature;
//! - the runtime under the macro ([`Event`], [`Sse`], [`Sender`], [`SseSession`],
//!   [`Json`]), usable on its own;
//! - [`SseServerExt`]: the `HttpServer` settings an SSE server needs, in one call;
//! - [`test`](mod@test): a test client that reads a handler's events through `actix_web::test`;
//! - [`metrics()`]: process-wide counters (open streams, events, how streams ended) for
//!   monitoring, with a Prometheus rendering.
//!
//! `use actix_sse::prelude::*;` brings what handlers need.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

#[allow(unused_extern_crates)] // lets this crate's own tests and docs use `#[sse]`
extern crate self as actix_sse;

#[doc(inline)]
pub use sse_macros::sse;

/// The README's examples, compiled as doctests so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use sse_runtime::*;

pub mod test;

/// The `Stream` trait (from `futures-core`), for stream-style handlers'
/// `-> impl Stream<Item = ..>`.
pub use futures_core::Stream;

/// Everything a handler needs: `use actix_sse::prelude::*;`.
pub mod prelude {
    pub use crate::{
        close, reject, send, sse, ChannelEvent, Channels, Event, Json, LastEventId, SendError,
        Sender, Shutdown, SseServerExt, SseSession, Stream,
    };
}

/// Sends one event from the body of an [`#[sse]`](macro@sse) handler.
///
/// `send!(value)` or `send!(value, event = .., id = .., retry = .., comment = ..)`. The
/// `#[sse]` attribute rewrites every `send!` in the handler's body; used anywhere else, it
/// is a compile error. See [`macro@sse`] for what it evaluates to.
#[macro_export]
macro_rules! send {
    ($($tt:tt)*) => {
        ::core::compile_error! {
            "`send!` can only be used directly in the body of an `#[sse]` function"
        }
    };
}

/// Ends the stream of an [`#[sse]`](macro@sse) handler and returns from the handler, like
/// `return`.
///
/// What was sent before is delivered; nothing more is sent, and the rest of the handler does
/// not run (rustc reports code after it as unreachable). It returns `()`, or `Ok(())` from a
/// handler returning `Result<(), E>`; like `return`, it fits anywhere a value is expected
/// (`if done { close!() }`). The `#[sse]` attribute rewrites every `close!()` in the
/// handler's body; used anywhere else, it is a compile error. Elsewhere, use
/// [`SseSession::close`].
#[macro_export]
macro_rules! close {
    ($($tt:tt)*) => {
        ::core::compile_error! {
            "`close!` can only be used directly in the body of an `#[sse]` function; elsewhere, call `SseSession::close()`"
        }
    };
}

/// Answers the request with a response or an error instead of the event stream of an
/// [`#[sse]`](macro@sse) handler, and returns from the handler, like `return`.
///
/// `reject!(response)` takes any `Responder` (`HttpResponse::NoContent()`,
/// `HttpResponse::NotFound().body("no such topic")`, …) or any error that converts into
/// `actix_web::Error` (`ErrorUnauthorized("bad token")`, a `ResponseError` of yours). It
/// returns `()`, or `Ok(())` from a handler returning `Result<(), E>`, so it works in any
/// push-style handler, whatever its error type.
///
/// It answers only while no event has been sent: the response head waits for the first
/// event (or the handler's return, or at most a second; see [`macro@sse`], "When the
/// response goes out"). After that, the `200` head is on its way: `reject!` then ends the
/// stream like [`close!`] and logs a warning (target `actix_sse`).
///
/// `204 No Content` is how a server tells an `EventSource` to stop reconnecting:
///
/// ```
/// use actix_sse::prelude::*;
/// use actix_web::HttpResponse;
///
/// #[sse("/counter")]
/// async fn counter(last: LastEventId<u64>) {
///     if last.get() == Some(&9) {
///         reject!(HttpResponse::NoContent()); // the client has every event: stop it
///     }
///     // ..
/// }
/// # let _ = actix_web::App::new().service(counter);
/// ```
///
/// The `#[sse]` attribute rewrites every `reject!` in the handler's body; used anywhere
/// else, it is a compile error. Elsewhere, use [`Sender::reject`].
#[macro_export]
macro_rules! reject {
    ($($tt:tt)*) => {
        ::core::compile_error! {
            "`reject!` can only be used directly in the body of an `#[sse]` function"
        }
    };
}

/// What generated code names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use ::actix_web;
    pub use ::sse_runtime::*;

    /// `send!` and `close!` alone, glob-imported next to each handler so that the `use send
    /// as _;` the rewrite puts in the body resolves even when the user imported only `sse`.
    pub mod macros {
        pub use crate::{close, reject, send};
    }

    /// The value `close!()` returns from the handler: `()` or `Ok(())`, inferred from the
    /// handler's return type (`return Closed::closed()`).
    #[diagnostic::on_unimplemented(
        message = "`close!()` cannot return from a handler that returns `{Self}`",
        label = "`close!()` returns `()` or `Ok(())` from the handler",
        note = "push-style `#[sse]` handlers return `()` or `Result<(), E>`"
    )]
    pub trait Closed {
        /// `()` or `Ok(())`.
        fn closed() -> Self;
    }

    impl Closed for () {
        fn closed() {}
    }

    impl<E> Closed for Result<(), E> {
        fn closed() -> Self {
            Ok(())
        }
    }

    /// `send!(..);` as a statement: the handler did not look at the result, so a refused
    /// event is logged instead of silently lost. `Closed` is not logged: the stream is
    /// ending anyway.
    pub fn unhandled(result: Result<(), SendError>) {
        match result {
            Ok(()) | Err(SendError::Closed) => {}
            Err(e) => log::warn!(target: "actix_sse", "event not sent: {e}"),
        }
    }

    /// `Serializer<T>` under another name: a value the serializer cannot take is then
    /// reported by its root cause (e.g. "`Customer: Serialize` is not satisfied") instead of
    /// "`Json: Serializer<Customer>` is not satisfied".
    #[diagnostic::on_unimplemented(
        message = "`#[sse(serialize = ..)]` cannot send a `{T}`: `{Self}` does not serialize it",
        label = "`{Self}` cannot serialize this `{T}`",
        note = "with `serialize = json`, `{T}` must implement `serde::Serialize`: add `#[derive(serde::Serialize)]` to its definition",
        note = "with `serialize = path::to::fn`, the function must take `&{T}` and return `String` or `Result<String, E>`"
    )]
    pub trait SerializerFor<T: ?Sized>: Serializer<T> {}

    impl<T: ?Sized, S: Serializer<T> + ?Sized> SerializerFor<T> for S {}

    /// `send!(value, ..)` with `serialize = ..`.
    pub async fn send_serialized<T, S>(
        tx: &Sender,
        value: &T,
        serializer: &S,
        fields: impl EventFields,
    ) -> Result<(), SendError>
    where
        T: ?Sized,
        S: SerializerFor<T> + ?Sized,
    {
        tx.send_serialized(value, serializer, fields).await
    }

    // A field value of `send!(value, id = x)` goes into `Fields` as it is when it is a
    // `FieldValue` (integers, strings: written without formatting), else as
    // `Formatted(x)` (any `Display`). Chosen by method resolution on the concrete type
    // ("autoref specialization", as in `anyhow!`):
    //
    //     match x { v => (&FieldKind(&v)).__sse_field_kind().field(v) }
    //
    // `&FieldKind<V>` matches `ValueKind` (implemented for `FieldKind<T>` with
    // `T: FieldValue`) without autoref, and only otherwise `DisplayKind` (implemented for
    // `&FieldKind<T>` with `T: Display`) with one. A value that is neither is one error,
    // on the value: no `__sse_field_kind` for it, as neither bound is satisfied. An integer of not yet inferred type is a
    // `FieldValue` and falls back to `i32`, as with `Display`.

    /// A field value of `send!`, borrowed while its kind is chosen.
    pub struct FieldKind<'a, T: ?Sized>(pub &'a T);

    /// The field value is a [`FieldValue`]: used as it is.
    pub struct ValueTag;

    /// The field value is any other value: [`Formatted`] if it is `Display`.
    pub struct DisplayTag;

    /// Picks [`ValueTag`] for a [`FieldValue`].
    pub trait ValueKind {
        /// The tag.
        #[inline]
        fn __sse_field_kind(&self) -> ValueTag {
            ValueTag
        }
    }

    impl<T: FieldValue + ?Sized> ValueKind for FieldKind<'_, T> {}

    /// Picks [`DisplayTag`] for any other `Display` value.
    pub trait DisplayKind {
        /// The tag.
        #[inline]
        fn __sse_field_kind(&self) -> DisplayTag {
            DisplayTag
        }
    }

    impl<T: core::fmt::Display + ?Sized> DisplayKind for &FieldKind<'_, T> {}

    impl ValueTag {
        /// The value itself.
        #[inline]
        pub fn field<T: FieldValue>(self, value: T) -> T {
            value
        }
    }

    impl DisplayTag {
        /// The value, formatted into the field.
        #[inline]
        pub fn field<T: core::fmt::Display>(self, value: T) -> Formatted<T> {
            Formatted(value)
        }
    }

    // The handler's response. Each takes the configuration as a closure and returns
    // `impl Responder`, so a wrong return or item type fails one bound here, reported once
    // on the user's return type, and not again as "`Sse<..>` is not a `Responder`".

    /// A push-style handler: `-> ()` or `-> Result<(), E>`. `fut` is the call of the
    /// function holding the body, which has the user's own name and parameters (so that
    /// attributes like `#[tracing::instrument]` see those): it gets the sender from
    /// [`take_sender`] when first polled, under [`WithSender`]. `finish` turns what it
    /// returns into an [`Outcome`] (see [`ReturnsError`]); `session` is the handler's
    /// `SseSession` parameter, if any. Resolves once the stream starts (`Sse::start`).
    pub fn respond_fn<Fut, F, C>(
        session: Option<SseSession>,
        fut: Fut,
        finish: F,
        configure: C,
    ) -> impl core::future::Future<Output = impl actix_web::Responder>
    where
        Fut: core::future::Future + 'static,
        F: FnOnce(Fut::Output) -> Outcome + 'static,
        C: FnOnce(
            Sse<FnSource<WithSender<Finish<Fut, F>>>>,
        ) -> Sse<FnSource<WithSender<Finish<Fut, F>>>>,
    {
        let fut = Finish {
            fut,
            finish: Some(finish),
        };
        let sse = configure(Sse::from_fn(move |tx| WithSender { tx: Some(tx), fut }));
        match session {
            Some(session) => sse.with_session(session),
            None => sse,
        }
        .start()
    }

    /// The first `SseSession` among the handler's parameters (see [`IsSession`]).
    pub fn session_of<const N: usize>(sessions: [Option<SseSession>; N]) -> Option<SseSession> {
        sessions.into_iter().flatten().next()
    }

    /// A parameter that is an `SseSession`: `(&param).__sse_session()` is a clone of it.
    pub trait IsSession {
        /// The session.
        fn __sse_session(&self) -> Option<SseSession>;
    }

    impl IsSession for SseSession {
        fn __sse_session(&self) -> Option<SseSession> {
            Some(self.clone())
        }
    }

    /// Any other parameter: `None`.
    pub trait NotSession {
        /// No session.
        fn __sse_session(&self) -> Option<SseSession> {
            None
        }
    }

    impl<T> NotSession for &T {}

    pin_project_lite::pin_project! {
        /// The handler's future, its output turned into an [`Outcome`].
        pub struct Finish<Fut, F> {
            #[pin]
            fut: Fut,
            finish: Option<F>,
        }
    }

    impl<Fut: core::future::Future, F: FnOnce(Fut::Output) -> Outcome> core::future::Future
        for Finish<Fut, F>
    {
        type Output = Outcome;

        fn poll(
            self: core::pin::Pin<&mut Self>,
            cx: &mut core::task::Context<'_>,
        ) -> core::task::Poll<Outcome> {
            let this = self.project();
            let out = core::task::ready!(this.fut.poll(cx));
            let finish = this.finish.take().expect("polled after completion");
            core::task::Poll::Ready(finish(out))
        }
    }

    // What a push handler returned, as an `Outcome`, chosen at the handler's concrete
    // return type by autoref (`(&out).__sse_outcome_kind().outcome(out)`): an error that
    // converts into `actix_web::Error` may become the response; anything else goes through
    // `HandlerResult` (and a wrong return type fails its bound, with its message).

    /// `Result<(), E>` with `E: Into<actix_web::Error>`: [`Answers`].
    pub trait ReturnsError {
        /// The kind.
        fn __sse_outcome_kind(&self) -> Answers {
            Answers
        }
    }

    impl<E: Into<actix_web::Error>> ReturnsError for Result<(), E> {}

    /// Anything else: [`Logs`].
    pub trait ReturnsOther {
        /// The kind.
        fn __sse_outcome_kind(&self) -> Logs {
            Logs
        }
    }

    impl<T> ReturnsOther for &T {}

    /// An error with a response: the answer, before the first event.
    #[derive(Debug, Clone, Copy)]
    pub struct Answers;

    impl Answers {
        /// The outcome.
        pub fn outcome<E: Into<actix_web::Error>>(self, out: Result<(), E>) -> Outcome {
            match out {
                Ok(()) => Outcome::Done,
                Err(e) => Outcome::Answer(e.into()),
            }
        }
    }

    /// `()`, or an error that is only logged.
    #[derive(Debug, Clone, Copy)]
    pub struct Logs;

    impl Logs {
        /// The outcome.
        pub fn outcome<T: HandlerResult>(self, out: T) -> Outcome {
            out.into_outcome()
        }
    }

    // `reject!(x)`, chosen the same way: an error (`ErrorUnauthorized(..)`, a
    // `ResponseError`) or a `Responder` (`HttpResponse::NoContent()`).

    /// `x: Into<actix_web::Error>`: [`RejectError`].
    pub trait RejectsError {
        /// The kind.
        fn __sse_reject_kind(&self) -> RejectError {
            RejectError
        }
    }

    impl<E: Into<actix_web::Error>> RejectsError for E {}

    /// Anything else: [`RejectResponse`].
    pub trait RejectsOther {
        /// The kind.
        fn __sse_reject_kind(&self) -> RejectResponse {
            RejectResponse
        }
    }

    impl<T> RejectsOther for &T {}

    /// `reject!(error)`.
    #[derive(Debug, Clone, Copy)]
    pub struct RejectError;

    impl RejectError {
        /// Rejects.
        pub fn reject<E: Into<actix_web::Error>>(self, tx: &Sender, error: E) {
            tx.reject_error(error);
        }
    }

    /// `reject!(response)`.
    #[derive(Debug, Clone, Copy)]
    pub struct RejectResponse;

    impl RejectResponse {
        /// Rejects.
        pub fn reject<R: Rejection>(self, tx: &Sender, response: R) {
            tx.reject(response);
        }
    }

    /// `Responder + 'static` under another name, for `reject!`'s error message.
    #[diagnostic::on_unimplemented(
        message = "`reject!` cannot answer with a `{Self}`",
        label = "not a response or an error",
        note = "`reject!` takes an `HttpResponse` or its builder (`HttpResponse::NoContent()`), any other `Responder`, or an error that converts into `actix_web::Error` (`ErrorUnauthorized(..)`, a `ResponseError`)"
    )]
    pub trait Rejection: actix_web::Responder + 'static {}

    impl<R: actix_web::Responder + 'static> Rejection for R {}

    std::thread_local! {
        static SENDER: core::cell::Cell<Option<Sender>> = const { core::cell::Cell::new(None) };
    }

    pin_project_lite::pin_project! {
        /// The handler's future, with its sender until the body takes it.
        pub struct WithSender<Fut> {
            tx: Option<Sender>,
            #[pin]
            fut: Fut,
        }
    }

    impl<Fut: core::future::Future> core::future::Future for WithSender<Fut> {
        type Output = Fut::Output;

        fn poll(
            self: core::pin::Pin<&mut Self>,
            cx: &mut core::task::Context<'_>,
        ) -> core::task::Poll<Fut::Output> {
            let this = self.project();
            let Some(tx) = this.tx.take() else {
                return this.fut.poll(cx);
            };
            // Offered for this poll only; what the body did not take comes back, also when
            // the poll panics.
            struct Restore<'a>(&'a mut Option<Sender>, Option<Sender>);
            impl Drop for Restore<'_> {
                fn drop(&mut self) {
                    *self.0 = SENDER.with(|s| s.replace(self.1.take()));
                }
            }
            let previous = SENDER.with(|s| s.replace(Some(tx)));
            let _restore = Restore(this.tx, previous);
            this.fut.poll(cx)
        }
    }

    /// The first statement of a push handler's body: the sender [`WithSender`] offers
    /// during the body's first poll.
    pub fn take_sender() -> Sender {
        SENDER.with(|s| s.take()).expect(
            "an `#[sse]` function's body runs under its response, which hands it the sender",
        )
    }

    /// A stream-style handler: `-> impl Stream<Item = ..>`.
    pub fn respond_stream<St, C>(stream: St, configure: C) -> impl actix_web::Responder
    where
        St: crate::Stream + 'static,
        St::Item: StreamItem,
        C: FnOnce(Sse<StreamSource<St, Plain>>) -> Sse<StreamSource<St, Plain>>,
    {
        configure(Sse::from_stream(stream))
    }

    /// A stream-style handler with `serialize = ..`.
    pub fn respond_serialized_stream<St, S, C>(
        stream: St,
        serializer: S,
        configure: C,
    ) -> impl actix_web::Responder
    where
        St: crate::Stream + 'static,
        S: SerializerFor<St::Item> + 'static,
        C: FnOnce(
            Sse<StreamSource<St, WithSerializer<S>>>,
        ) -> Sse<StreamSource<St, WithSerializer<S>>>,
    {
        configure(Sse::from_serialized_stream(stream, serializer))
    }
}
