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
//! - `client` (feature `client`): an SSE client on `awc` that reconnects and resumes as a
//!   browser does; `send!(event)` relays what it reads as it came;
//! - [`test`](mod@test): a test client that reads a handler's events through `actix_web::test`;
//! - [`metrics()`]: process-wide counters (open streams, events, how streams ended) for
//!   monitoring, with a Prometheus rendering.
//!
//! `use actix_sse::prelude::*;` brings what handlers need. The [`guide`] is the manual:
//! how streams behave (heartbeat, back-pressure, disconnect, shutdown), the wire
//! guarantees, channels and their bounds, scaling out on Redis, testing, monitoring and
//! limitations. [`dev`] holds the lower-level types that appear in signatures and compiler
//! errors; most code never names them.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[allow(unused_extern_crates)] // lets this crate's own tests and docs use `#[sse]`
extern crate self as actix_sse;

#[doc(inline)]
pub use sse_macros::sse;

/// The README's examples, compiled as doctests so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

// Every name of the runtime, for code that names them; generated code goes through
// `__private`.
#[doc(hidden)]
pub use sse_runtime::*;

// What the root documents: the names users touch (`dev` has the lower-level ones). Named
// one by one, since a glob from another crate would document every item it brings.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use sse_runtime::BackendError;
pub use sse_runtime::{
    metrics, ChannelEvent, Channels, ChannelsBuilder, DataWriter, Event, EventId, Field, IntoEvent,
    InvalidEvent, InvalidEventId, InvalidLastEventId, Json, Lag, LastEventId, Metrics, PeerProbe,
    PublishError, SendError, Sender, SerializeError, Serializer, ServerSetup, Shutdown, Sse,
    SseServerExt, SseSession, Subscription, DEFAULT_BUFFER, DEFAULT_HEARTBEAT,
    DEFAULT_SEND_TIMEOUT, HEAD_WAIT, MAX_HEAD_WAIT, MAX_HEARTBEAT, MIN_HEARTBEAT, PROBE_PERIOD,
};

#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use sse_runtime::client;

pub mod guide;
pub mod test;

/// The `Stream` trait (from `futures-core`), for stream-style handlers'
/// `-> impl Stream<Item = ..>`.
pub use futures_core::Stream;

/// Lower-level types: those that appear in signatures and compiler errors, and the parts
/// of [`Sender::send_with`]. Most code never names them.
///
/// - The response types of [`Sse`]'s constructors: [`FnSource`] for [`Sse::from_fn`],
///   [`StreamSource`] with [`Plain`] or [`WithSerializer`] for the stream constructors,
///   and [`Start`] / [`Started`] for [`Sse::start`], which answers before streaming.
/// - The bounds they check, which compiler errors name: [`HandlerResult`] (what a handler
///   returns), [`StreamItem`] (what a stream yields), [`ItemEncoder`] and
///   [`SerializerOutput`] (what a serializer function returns), and
///   [`Rejection`] (what [`reject!`] takes), and [`StreamAnswer`] (what the `Err` of a
///   stream-style handler may be).
/// - The fields of [`Sender::send_with`], which `send!(value, id = ..)` builds: [`Fields`],
///   [`Formatted`], [`Unset`], and the traits [`EventFields`] and [`FieldValue`].
/// - [`ResumeFrom`] and [`IntoResumeFrom`], what [`Channels::subscribe`] takes as a
///   `Last-Event-ID`; [`Notified`], the future of [`Shutdown::notified`]; and
///   [`SseError`], the error of a body whose handler panicked.
///
/// They are also reachable from the crate root, where the documentation leaves them out.
pub mod dev {
    pub use sse_runtime::dev::*;

    /// What [`reject!`](crate::reject) answers with: any `Responder` (an `HttpResponse`, its
    /// builder such as `HttpResponse::NoContent()`, a string, ..). Errors that convert into
    /// `actix_web::Error` are taken too, through another path. Implemented for every
    /// `Responder`; there is nothing to implement.
    #[diagnostic::on_unimplemented(
        message = "`reject!` cannot answer with a `{Self}`",
        label = "not a response or an error",
        note = "`reject!` takes an `HttpResponse` or its builder (`HttpResponse::NoContent()`), any other `Responder`, or an error that converts into `actix_web::Error` (`ErrorUnauthorized(..)`, a `ResponseError`)"
    )]
    pub trait Rejection: Sized {
        /// Answers the request with `self` (what `reject!` expands to).
        #[doc(hidden)]
        fn __sse_reject(self, tx: &crate::Sender);
    }

    #[diagnostic::do_not_recommend]
    impl<R: actix_web::Responder + 'static> Rejection for R {
        fn __sse_reject(self, tx: &crate::Sender) {
            tx.reject(self);
        }
    }

    /// What the `Err` of a stream-style handler (`-> Result<impl Stream<Item = ..>, E>`) may
    /// be: an error that converts into `actix_web::Error` (`ErrorUnauthorized(..)`, a
    /// `ResponseError`), answered with its response, or any `Responder`
    /// (`HttpResponse::NoContent().finish()`), answered as it is. Implemented for every
    /// `Responder`; there is nothing to implement.
    #[diagnostic::on_unimplemented(
        message = "a stream-style handler cannot answer with a `{Self}`",
        label = "the `Err` of this `Result` is the answer instead of the stream",
        note = "return `Err(e)` with an error that converts into `actix_web::Error` (`ErrorUnauthorized(..)`, a `ResponseError`) or any `Responder` (`HttpResponse::NoContent().finish()`)"
    )]
    pub trait StreamAnswer: Sized {
        /// The answer itself (what the `#[sse]` expansion checks).
        #[doc(hidden)]
        fn __sse_answer(self) -> Self;
    }

    #[diagnostic::do_not_recommend]
    impl<R: actix_web::Responder> StreamAnswer for R {
        fn __sse_answer(self) -> Self {
            self
        }
    }
}

#[doc(hidden)]
pub use dev::{Rejection, StreamAnswer};

/// Everything a handler needs: `use actix_sse::prelude::*;`.
pub mod prelude {
    pub use crate::{
        close, reject, send, sse, ChannelEvent, Channels, Event, Json, LastEventId, SendError,
        Sender, Shutdown, Sse, SseServerExt, SseSession, Stream,
    };
}

/// Sends one event from the body of an [`#[sse]`](macro@sse) handler.
///
/// ```text
/// send!(value)
/// send!(value, event = .., id = .., retry = .., comment = ..)   any of the fields, any order
/// ```
///
/// It waits while the client is not reading (back-pressure) and evaluates to
/// `Result<(), SendError>`: `send!(x)?` ends the handler when the event is refused or the
/// stream is gone (with `E: From<SendError>`), and as a statement, `send!(x);`, a refused
/// event is logged. The `#[sse]` attribute rewrites every `send!` directly in the handler's
/// body (not in closures, `async` blocks or nested functions); used anywhere else, it is a
/// compile error.
///
/// # A value
///
/// A string (`&str`, `String`, ..) is the event's `data`; line breaks in it become several
/// `data:` lines, which the client joins back:
///
/// ```
/// use actix_sse::prelude::*;
///
/// #[sse("/greetings")]
/// async fn greetings() {
///     send!("hello");                    // data: hello
///     let name = String::from("world");
///     send!(format!("hello {name}"));    // data: hello world
/// }
/// # let _ = actix_web::App::new().service(greetings);
/// ```
///
/// # Fields
///
/// `event`, `id` and `comment` take any `Display` value (integers and strings are written
/// without formatting); `retry` takes a duration literal like `"3s"` (checked at compile
/// time) or a `Duration`. An `event` with CR or LF, or an `id` with CR, LF or NUL, refuses
/// the event (`SendError::Invalid`; nothing of it is written).
///
/// ```
/// use actix_sse::prelude::*;
/// use std::time::Duration;
///
/// #[sse("/ticks")]
/// async fn ticks() -> Result<(), SendError> {
///     send!("connected", retry = "3s", comment = "welcome")?;
///     for i in 0..3u32 {
///         send!(format!("tick {i}"), event = "tick", id = i)?; // event: tick / id: 0 / data: tick 0
///     }
///     send!("bye", retry = Duration::from_secs(10))?;
///     Ok(())
/// }
/// # let _ = actix_web::App::new().service(ticks);
/// ```
///
/// # An `Event`
///
/// An [`Event`] is sent as it is; fields given to `send!` replace its own:
///
/// ```
/// use actix_sse::prelude::*;
///
/// #[sse("/alerts")]
/// async fn alerts() {
///     send!(Event::data("disk almost full").event("alert").id("a-1"));
///     send!(Event::comment("still here"));              // a comment line, no event
///     send!(Event::data("cleared"), event = "resolved"); // event: resolved
/// }
/// # let _ = actix_web::App::new().service(alerts);
/// ```
///
/// # With `serialize = json`
///
/// With a serializer, `send!` takes any value it accepts, here any `serde::Serialize`
/// value, written as one line of JSON (or `serialize = path::to::fn`, any
/// `fn(&T) -> String`):
///
/// ```
/// use actix_sse::prelude::*;
///
/// #[derive(serde::Serialize)]
/// struct Price {
///     symbol: &'static str,
///     cents: u64,
/// }
///
/// #[sse("/prices", serialize = json)]
/// async fn prices() {
///     send!(Price { symbol: "ACME", cents: 1234 }, event = "price", id = 1);
///     // event: price / id: 1 / data: {"symbol":"ACME","cents":1234}
/// }
/// # let _ = actix_web::App::new().service(prices);
/// ```
///
/// An [`Event`] (or a [`ChannelEvent`]) is not serialized: it goes out as it is, so a JSON
/// stream can end the way LLM APIs end theirs:
///
/// ```
/// use actix_sse::prelude::*;
///
/// #[derive(serde::Serialize)]
/// struct Token<'a> {
///     text: &'a str,
/// }
///
/// #[sse("/v1/completions", method = "post", serialize = json)]
/// async fn completions() {
///     for text in ["Hello", " world"] {
///         send!(Token { text }); // data: {"text":"Hello"}
///     }
///     send!(Event::data("[DONE]")); // data: [DONE]
/// }
/// # let _ = actix_web::App::new().service(completions);
/// ```
///
/// A value the stream cannot take is a compile error on the value, saying what to do:
///
/// ```compile_fail
/// use actix_sse::prelude::*;
///
/// #[derive(serde::Serialize)]
/// struct Price { cents: u64 }
///
/// #[sse("/prices")]
/// async fn prices() {
///     send!(Price { cents: 1 }); // error: `Price` cannot be sent as an event
///                                // (add `serialize = json` to `#[sse]`, or convert it)
/// }
/// # fn main() {}
/// ```
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

    // Type checks that fail on the user's value, once, with the message of the public
    // trait it misses (`IntoEvent`, `Serializer`, `StreamItem`, `FieldValue`):
    //
    //     check_event(value, IntoEvent::into_event).__sse_send(&tx).await
    //
    // The obligation `T: IntoEvent` comes from naming the trait's own method, so rustc
    // reports it without "required by a bound in" a generated function. What follows is
    // chosen by method resolution on the concrete type ("autoref specialization", as for
    // field values below): the send itself when the check holds, else a stand-in without
    // bounds, so that the send's own bound is not reported a second time. Each check
    // returns its first argument, wrapped: nothing at run time once inlined.

    /// A value that passed, or failed (and was reported), one of the checks below.
    pub struct Checked<T>(pub T);

    /// `value` can be sent without a serializer: `check_event(v, IntoEvent::into_event)`.
    #[inline(always)]
    pub fn check_event<T>(value: T, _: fn(T) -> Event) -> Checked<T> {
        Checked(value)
    }

    /// `send!(value, ..)` without a serializer, when `value` is an event.
    pub trait SendEvent {
        /// `send!(value)`.
        fn __sse_send<'a>(
            self,
            tx: &'a Sender,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a
        where
            Self: 'a;
        /// `send!(value, field = ..)`.
        fn __sse_send_with<'a, F: EventFields + 'a>(
            self,
            tx: &'a Sender,
            fields: F,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a
        where
            Self: 'a;
    }

    impl<T: IntoEvent> SendEvent for Checked<T> {
        #[inline(always)]
        fn __sse_send<'a>(
            self,
            tx: &'a Sender,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a
        where
            Self: 'a,
        {
            tx.send(self.0)
        }
        #[inline(always)]
        fn __sse_send_with<'a, F: EventFields + 'a>(
            self,
            tx: &'a Sender,
            fields: F,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a
        where
            Self: 'a,
        {
            tx.send_with(self.0, fields)
        }
    }

    /// A value that failed its check (reported there): nothing more to say about it.
    pub trait SendOther {
        /// Never runs.
        fn __sse_send(self, _: &Sender) -> core::future::Ready<Result<(), SendError>>
        where
            Self: Sized,
        {
            core::future::ready(Ok(()))
        }
        /// Never runs.
        fn __sse_send_with<F>(self, _: &Sender, _: F) -> core::future::Ready<Result<(), SendError>>
        where
            Self: Sized,
        {
            core::future::ready(Ok(()))
        }
        /// Never runs.
        fn __sse_send_serialized<F>(
            self,
            _: &Sender,
            _: F,
        ) -> core::future::Ready<Result<(), SendError>>
        where
            Self: Sized,
        {
            core::future::ready(Ok(()))
        }
        /// Never runs.
        fn __sse_field(self) -> &'static str
        where
            Self: Sized,
        {
            ""
        }
    }

    impl<T> SendOther for &Checked<T> {}

    /// `send!(value, ..)` with `serialize = ..`, when the serializer takes `value`.
    pub trait SendSerialized {
        /// `send!(value, ..)`.
        fn __sse_send_serialized<'a, F: EventFields + 'a>(
            self,
            tx: &'a Sender,
            fields: F,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a
        where
            Self: 'a;
    }

    impl<T: ?Sized, S: Serializer<T> + ?Sized> SendSerialized for Checked<(&T, &S)> {
        #[inline(always)]
        fn __sse_send_serialized<'a, F: EventFields + 'a>(
            self,
            tx: &'a Sender,
            fields: F,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a
        where
            Self: 'a,
        {
            let (value, serializer) = self.0;
            tx.send_serialized(value, serializer, fields)
        }
    }

    // In a handler with a serializer, `send!(value, ..)` sends an `Event` or a
    // `ChannelEvent` as it is, and any other value through the serializer. Chosen by
    // autoref on the value's concrete type, as for field values below:
    //
    //     match &(value) {
    //         v => (&SendKind(v)).__sse_send_kind().check(v, &ser, Serializer::serialize)
    //             .__sse_send_serialized(&tx, fields).await
    //     }
    //
    // `&SendKind<T>` matches `RawKind` (for `T: RawEvent`) without autoref, and only
    // otherwise `SerializeKind` (every `&SendKind<T>`) with one. Both take
    // `Serializer::serialize` last: for `SerializeTag` it is the serializer's for the value,
    // a check that fails on the value with `Serializer`'s message; for `RawTag`,
    // `Unchecked`'s, which always holds.

    /// A value of `send!` in a handler with a serializer, borrowed while its kind is chosen.
    pub struct SendKind<'a, T: ?Sized>(pub &'a T);

    /// An event sent as it is under a serializer: an [`Event`] or a [`ChannelEvent`].
    pub trait RawEvent {
        /// `send!(event, ..)`.
        fn __sse_send_raw<'a, F: EventFields + 'a>(
            &'a self,
            tx: &'a Sender,
            fields: F,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a;
    }

    /// `RawEvent` for types whose `&T` the sender sends as they are.
    macro_rules! raw_events {
        ($($ty:ty),*) => {$(
            impl RawEvent for $ty {
                #[inline(always)]
                fn __sse_send_raw<'a, F: EventFields + 'a>(
                    &'a self,
                    tx: &'a Sender,
                    fields: F,
                ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a {
                    tx.send_with(self, fields)
                }
            }
        )*};
    }

    raw_events!(Event, ChannelEvent);

    // The client's events, when the runtime has them (its `client` feature, also when
    // enabled through another dependency than this crate's own feature).
    ::sse_runtime::__with_client! {
        raw_events!(::sse_runtime::client::ServerSentEvent);
    }

    impl<T: RawEvent + ?Sized> RawEvent for &T {
        #[inline(always)]
        fn __sse_send_raw<'a, F: EventFields + 'a>(
            &'a self,
            tx: &'a Sender,
            fields: F,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a {
            (**self).__sse_send_raw(tx, fields)
        }
    }

    /// The value is an event: [`RawTag`].
    pub trait RawKind {
        /// The tag.
        #[inline]
        fn __sse_send_kind(&self) -> RawTag {
            RawTag
        }
    }

    impl<T: RawEvent + ?Sized> RawKind for SendKind<'_, T> {}

    /// Any other value: [`SerializeTag`].
    pub trait SerializeKind {
        /// The tag.
        #[inline]
        fn __sse_send_kind(&self) -> SerializeTag {
            SerializeTag
        }
    }

    impl<T: ?Sized> SerializeKind for &SendKind<'_, T> {}

    /// An event under a serializer: sent as it is.
    #[derive(Debug, Clone, Copy)]
    pub struct RawTag;

    /// A value for the serializer.
    #[derive(Debug, Clone, Copy)]
    pub struct SerializeTag;

    /// An event checked by [`RawTag::check`].
    pub struct Raw<'v, T: ?Sized>(&'v T);

    impl RawTag {
        /// The event itself.
        #[inline(always)]
        pub fn check<'v, T: ?Sized, S: ?Sized, A, R>(
            self,
            value: &'v T,
            _: &'v S,
            _: fn(&Unchecked, &Event, A) -> R,
        ) -> Checked<Raw<'v, T>> {
            Checked(Raw(value))
        }
    }

    impl SerializeTag {
        /// The value and its serializer, once `serializer` takes `value` (the last
        /// argument, `Serializer::serialize`, is the check).
        #[inline(always)]
        pub fn check<'v, T: ?Sized, S: ?Sized, A, R>(
            self,
            value: &'v T,
            serializer: &'v S,
            _: fn(&S, &T, A) -> R,
        ) -> Checked<(&'v T, &'v S)> {
            Checked((value, serializer))
        }
    }

    impl<T: RawEvent + ?Sized> SendSerialized for Checked<Raw<'_, T>> {
        #[inline(always)]
        fn __sse_send_serialized<'a, F: EventFields + 'a>(
            self,
            tx: &'a Sender,
            fields: F,
        ) -> impl core::future::Future<Output = Result<(), SendError>> + 'a
        where
            Self: 'a,
        {
            self.0 .0.__sse_send_raw(tx, fields)
        }
    }

    /// The stream's items are events: `check_items(stream, StreamItem::encode_item)`.
    #[inline(always)]
    pub fn check_items<St: crate::Stream, A, R>(
        stream: St,
        _: fn(St::Item, A) -> R,
    ) -> Checked<St> {
        Checked(stream)
    }

    /// `serializer` takes the stream's items: `check_serialized_items(stream, ser,
    /// Serializer::serialize)`.
    #[inline(always)]
    pub fn check_serialized_items<St: crate::Stream, S, A, R>(
        stream: St,
        serializer: S,
        _: fn(&S, &St::Item, A) -> R,
    ) -> Checked<(St, S)> {
        Checked((stream, serializer))
    }

    /// A field value that passed its check (see [`ValueTag::field`]).
    pub trait PassField {
        /// The value.
        type Value;
        /// The value.
        fn __sse_field(self) -> Self::Value;
    }

    impl<T: FieldValue> PassField for Checked<T> {
        type Value = T;
        #[inline(always)]
        fn __sse_field(self) -> T {
            self.0
        }
    }

    /// An empty stream: what a stream handler whose items failed their check (reported
    /// there) stands for.
    #[derive(Debug, Clone, Copy)]
    pub struct NoItems;

    impl crate::Stream for NoItems {
        type Item = Event;
        fn poll_next(
            self: core::pin::Pin<&mut Self>,
            _: &mut core::task::Context<'_>,
        ) -> core::task::Poll<Option<Event>> {
            core::task::Poll::Ready(None)
        }
    }

    /// `serialize = ..` that could not be read (already reported): accepts anything, so
    /// that `send!` and stream items give no follow-on error.
    #[derive(Debug, Clone, Copy)]
    pub struct Unchecked;

    impl<T: ?Sized> Serializer<T> for Unchecked {
        fn serialize(&self, _: &T, _: &mut DataWriter<'_>) -> Result<(), SerializeError> {
            Ok(())
        }
    }

    /// What `#[sse("/path")]` on a method (which cannot be a handler, already reported)
    /// leaves in the `impl` block, as an associated const: a service that registers
    /// nothing, so `App::new().service(Type::method)` gives no follow-on error.
    #[derive(Debug, Clone, Copy)]
    pub struct Unusable;

    impl actix_web::dev::HttpServiceFactory for Unusable {
        fn register(self, _: &mut actix_web::dev::AppService) {}
    }

    // A field value of `send!(value, id = x)` goes into `Fields` as it is when it is a
    // `FieldValue` (integers, strings: written without formatting), else as
    // `Formatted(x)` (any `Display`). Chosen by method resolution on the concrete type
    // ("autoref specialization", as in `anyhow!`):
    //
    //     match x { v => (&FieldKind(&v)).__sse_field_kind().field(v) }
    //
    //     match x { v => (&FieldKind(&v)).__sse_field_kind().field(v, Display::fmt).__sse_field() }
    //
    // `&FieldKind<V>` matches `ValueKind` (implemented for `FieldKind<T>` with
    // `T: FieldValue`) without autoref, and only otherwise `DisplayKind` (implemented for
    // every `&FieldKind<T>`) with one. A value that is neither fails the `Display::fmt`
    // check, once, on the value ("`X` doesn't implement `std::fmt::Display`"), and
    // `__sse_field` then stands in for it (see `check_event`). An integer of not yet
    // inferred type is a `FieldValue` and falls back to `i32`, as with `Display`.

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

    /// Picks [`DisplayTag`] for any other value.
    pub trait DisplayKind {
        /// The tag.
        #[inline]
        fn __sse_field_kind(&self) -> DisplayTag {
            DisplayTag
        }
    }

    impl<T: ?Sized> DisplayKind for &FieldKind<'_, T> {}

    // Both take `core::fmt::Display::fmt` as second argument: for `DisplayTag` it is the
    // value's, a check that fails on the value, with `Display`'s own message, when it is
    // not `Display`; for `ValueTag` it is `str`'s, which always holds.

    impl ValueTag {
        /// The value itself.
        #[inline(always)]
        pub fn field<T: FieldValue>(self, value: T, _: DisplayFmt<str>) -> Checked<T> {
            Checked(value)
        }
    }

    impl DisplayTag {
        /// The value, formatted into the field.
        #[inline(always)]
        pub fn field<T>(self, value: T, _: DisplayFmt<T>) -> Checked<Formatted<T>> {
            Checked(Formatted(value))
        }
    }

    /// The type of `<T as Display>::fmt`.
    pub type DisplayFmt<T> = fn(&T, &mut core::fmt::Formatter<'_>) -> core::fmt::Result;

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
    // return type by autoref
    // (`HandlerResult::into_outcome((&out).__sse_outcome_kind().outcome(out))`): an error
    // that converts into `actix_web::Error` may become the response (an `Outcome`
    // already); anything else goes through `HandlerResult` (and a wrong return type
    // fails it, with its message).

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
        /// The value as it is, for `HandlerResult::into_outcome` (called by the expansion
        /// on the user's return type, so a wrong one is reported with that trait's
        /// message and nothing of ours).
        pub fn outcome<T>(self, out: T) -> T {
            out
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

    // Both take `Rejection::__sse_reject` as last argument: for `RejectResponse` it is the
    // value's, a check that fails on the value, with `Rejection`'s message, when it is not
    // a `Responder`, and what rejects; for `RejectError` it is `HttpResponse`'s, which
    // always holds.

    /// `reject!(error)`.
    #[derive(Debug, Clone, Copy)]
    pub struct RejectError;

    impl RejectError {
        /// Rejects.
        pub fn reject<E: Into<actix_web::Error>>(
            self,
            tx: &Sender,
            error: E,
            _: fn(actix_web::HttpResponse, &Sender),
        ) {
            tx.reject_error(error);
        }
    }

    /// `reject!(response)`.
    #[derive(Debug, Clone, Copy)]
    pub struct RejectResponse;

    impl RejectResponse {
        /// Rejects.
        pub fn reject<R>(self, tx: &Sender, response: R, reject: fn(R, &Sender)) {
            reject(response, tx);
        }
    }

    pub use crate::{Rejection, StreamAnswer};

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

    /// A stream-style handler: `-> impl Stream<Item = ..>`, items checked by
    /// [`check_items`].
    pub trait RespondStream {
        /// The stream.
        type Stream: crate::Stream + 'static;
        /// The response.
        fn __sse_respond<C>(self, configure: C) -> impl actix_web::Responder
        where
            C: FnOnce(
                Sse<StreamSource<Self::Stream, Plain>>,
            ) -> Sse<StreamSource<Self::Stream, Plain>>;
    }

    impl<St> RespondStream for Checked<St>
    where
        St: crate::Stream + 'static,
        St::Item: StreamItem,
    {
        type Stream = St;
        fn __sse_respond<C>(self, configure: C) -> impl actix_web::Responder
        where
            C: FnOnce(Sse<StreamSource<St, Plain>>) -> Sse<StreamSource<St, Plain>>,
        {
            configure(Sse::from_stream(self.0))
        }
    }

    /// A stream-style handler with `serialize = ..`, items checked by
    /// [`check_serialized_items`].
    pub trait RespondSerializedStream {
        /// The stream.
        type Stream: crate::Stream + 'static;
        /// The serializer.
        type Serializer: 'static;
        /// The response.
        fn __sse_respond<C>(self, configure: C) -> impl actix_web::Responder
        where
            C: FnOnce(
                Sse<StreamSource<Self::Stream, WithSerializer<Self::Serializer>>>,
            )
                -> Sse<StreamSource<Self::Stream, WithSerializer<Self::Serializer>>>;
    }

    impl<St, S> RespondSerializedStream for Checked<(St, S)>
    where
        St: crate::Stream + 'static,
        S: Serializer<St::Item> + 'static,
    {
        type Stream = St;
        type Serializer = S;
        fn __sse_respond<C>(self, configure: C) -> impl actix_web::Responder
        where
            C: FnOnce(
                Sse<StreamSource<St, WithSerializer<S>>>,
            ) -> Sse<StreamSource<St, WithSerializer<S>>>,
        {
            let (stream, serializer) = self.0;
            configure(Sse::from_serialized_stream(stream, serializer))
        }
    }

    // The `Err` of a stream-style handler returning `Result<impl Stream<..>, E>`, chosen
    // by autoref on its concrete type (`(&e).__sse_answer_kind().answer(e)`): an error that
    // converts into `actix_web::Error` answers with its response, anything else must be a
    // `Responder` and is the answer as it is.

    /// `E: Into<actix_web::Error>`: [`ErrorAnswer`].
    pub trait AnswersError {
        /// The kind.
        fn __sse_answer_kind(&self) -> ErrorAnswer {
            ErrorAnswer
        }
    }

    impl<E: Into<actix_web::Error>> AnswersError for E {}

    /// Anything else: [`ResponseAnswer`].
    pub trait AnswersOther {
        /// The kind.
        fn __sse_answer_kind(&self) -> ResponseAnswer {
            ResponseAnswer
        }
    }

    impl<T> AnswersOther for &T {}

    /// An error: its response.
    #[derive(Debug, Clone, Copy)]
    pub struct ErrorAnswer;

    // Both take `StreamAnswer::__sse_answer` last: for `ResponseAnswer` it is the value's,
    // a check that fails on it with `StreamAnswer`'s message when it is not a `Responder`;
    // for `ErrorAnswer`, `HttpResponse`'s, which always holds. The answer is then taken
    // by a method chosen on the checked value (see `check_event`).

    impl ErrorAnswer {
        /// The response.
        pub fn answer<E: Into<actix_web::Error>>(
            self,
            error: E,
            _: fn(actix_web::HttpResponse) -> actix_web::HttpResponse,
        ) -> Checked<actix_web::HttpResponse> {
            Checked(actix_web::HttpResponse::from_error(error.into()))
        }
    }

    /// A response.
    #[derive(Debug, Clone, Copy)]
    pub struct ResponseAnswer;

    impl ResponseAnswer {
        /// The response itself.
        pub fn answer<R>(self, response: R, _: fn(R) -> R) -> Checked<R> {
            Checked(response)
        }
    }

    /// A checked answer: the response.
    pub trait TakeAnswer {
        /// The response.
        type Answer: actix_web::Responder;
        /// The response.
        fn __sse_take_answer(self) -> Self::Answer;
    }

    impl<R: actix_web::Responder> TakeAnswer for Checked<R> {
        type Answer = R;
        fn __sse_take_answer(self) -> R {
            self.0
        }
    }

    /// An answer that failed its check (reported there).
    pub trait TakeOther {
        /// Never runs.
        fn __sse_take_answer(self) -> actix_web::HttpResponse
        where
            Self: Sized,
        {
            actix_web::HttpResponse::InternalServerError().finish()
        }
    }

    impl<T> TakeOther for &Checked<T> {}

    /// The response of a path-ful handler used as an actix-web `Handler`
    /// (`.route("/events", web::get().to(events))`), boxed: its type cannot be named.
    pub struct AnyResponder(Box<dyn FnOnce(&actix_web::HttpRequest) -> actix_web::HttpResponse>);

    impl AnyResponder {
        /// Boxes `responder`.
        pub fn new<R: actix_web::Responder + 'static>(responder: R) -> Self {
            AnyResponder(Box::new(move |req| {
                responder.respond_to(req).map_into_boxed_body()
            }))
        }
    }

    impl actix_web::Responder for AnyResponder {
        type Body = actix_web::body::BoxBody;
        fn respond_to(self, req: &actix_web::HttpRequest) -> actix_web::HttpResponse {
            (self.0)(req)
        }
    }

    /// A stream whose items failed their check (reported there): an empty stream, typed
    /// for the configuration closure of either kind.
    pub trait RespondOther {
        /// Never runs.
        fn __sse_respond<C>(self, configure: C) -> impl actix_web::Responder
        where
            Self: Sized,
            C: FnOnce(Sse<StreamSource<NoItems, Plain>>) -> Sse<StreamSource<NoItems, Plain>>,
        {
            let _ = configure;
            actix_web::HttpResponse::InternalServerError()
        }
    }

    impl<T> RespondOther for &Checked<T> {}
}
