//! The `#[sse]` attribute of [actix-sse](https://docs.rs/actix-sse). Use it through the
//! `actix-sse` crate, which re-exports it with the runtime it generates code against.
//!
//! Stages: `args` parses the attribute, `validate` checks the function against it,
//! `rewrite` turns `send!`/`close!` into sender calls, `expand` builds the handler and
//! `fallback` the stub emitted when no handler can be built. Errors are collected, not
//! thrown: every mistake is reported on its token, next to code of the expected shape.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, ToTokens};

mod args;
mod expand;
mod fallback;
mod rewrite;
mod validate;

/// Turns an `async fn` into a Server-Sent Events endpoint for actix-web.
///
/// The function's body sends events with [`send!`] (and may end the stream with
/// [`close!`]), or the function returns a `Stream` of events. Its parameters are actix-web
/// extractors (`web::Path`, `web::Query`, `web::Data`, `HttpRequest`, `LastEventId`,
/// `SseSession`, …), passed through unchanged.
///
/// Use it through the `actix-sse` crate (`use actix_sse::prelude::*;`), which also provides
/// `send!`, `close!`, `reject!` and the runtime the expansion calls.
///
/// [`send!`]: https://docs.rs/actix-sse/latest/actix_sse/macro.send.html
/// [`close!`]: https://docs.rs/actix-sse/latest/actix_sse/macro.close.html
///
/// # Syntax
///
/// ```text
/// #[sse("/path", key = value, ..)]    a service:  App::new().service(name)
/// #[sse(key = value, ..)]             a handler:  App::new().route("/path", web::get().to(name))
///
/// async fn name(extractors..) { .. send!(value); .. }                 push style
/// async fn name(extractors..) -> Result<(), E> { .. send!(value)?; }  push style, fallible
/// async fn name(extractors..) -> impl Stream<Item = T> { .. }         stream style
/// ```
///
/// **With a path**, the function becomes a unit struct of the same name and visibility that
/// implements actix-web's `HttpServiceFactory` (like actix-web's `#[get]`): it answers `GET`
/// on that path (or the `method` given) with `App::new().service(events)`. It is also an
/// actix-web `Handler`, so `.route("/elsewhere", web::get().to(events))` works too, on the
/// route's own path and method (the attribute's `method`, `name`, `guard` and `wrap` apply to
/// `.service` only; the response is boxed, one allocation more per request). The struct's
/// name takes the function's place in the module: a variable of the same name would be read
/// as the struct, so name the handler after what it streams (`job_progress`). **Without a path**, it stays an `async fn` returning `impl Responder`, to be
/// routed by hand; `name`, `guard` and `wrap` then belong where it is registered.
///
/// **Push style** (returns nothing or `Result<(), E>`): inside the body,
///
/// - `send!(value)` sends one event: an `Event` as is, a `String`/`&str` as its data; with
///   `serialize = ..`, any value the serializer accepts, and still an `Event` (or a
///   `ChannelEvent`) as is: `send!(Event::data("[DONE]"))` ends an LLM-style JSON stream.
/// - `send!(value, event = .., id = .., retry = .., comment = ..)` sets fields (any of them,
///   in any order; `retry` takes a `Duration` or a literal like `"3s"`). `event`, `id` and
///   `comment` take any `Display` value; each is written straight into the stream's buffer
///   (`Fields`): integers are formatted in place, strings copied once, other values
///   formatted into the buffer, so a string sent with an integer or string id allocates
///   nothing. An `event` with CR or LF, or an `id` with CR, LF or NUL, refuses the event
///   (`SendError::Invalid`; nothing of it is written).
/// - `send!(..)` waits while the client is not reading (back-pressure) and evaluates to
///   `Result<(), SendError>`, so `send!(x)?` works when `E: From<SendError>`. As a statement,
///   `send!(x);` needs no handling: a refused event is logged (the stream being closed is
///   not).
/// - `close!()` ends the stream and returns from the function, like `return` (with `()`, or
///   `Ok(())` from a function returning `Result`): what was sent is delivered, nothing more
///   is sent, and code after it is unreachable. `SseSession::close` ends the stream from
///   anywhere, without returning.
/// - `reject!(response)` answers the request with `response` instead of the stream (any
///   `Responder`, like `HttpResponse::NoContent()`, or an error, like
///   `ErrorUnauthorized("bad token")`) and returns, like `close!()`. An `Err` returned
///   before the first event whose type converts into `actix_web::Error` (any
///   `ResponseError`; `-> actix_web::Result<()>`) is answered the same way. Both only work
///   before the first event: see "When the response goes out" below.
/// - Any other `Err` returned by the function is logged and ends the stream cleanly.
///
/// `send!` is rewritten only in the function's own body, including inside other macro calls
/// such as `tokio::select!`; in a closure, an `async` block or a nested function, it is a
/// compile error (they may run after the stream is gone).
///
/// **When the response goes out** (push style): the response head waits, so that the
/// handler can still answer otherwise. It goes out
///
/// - with the **first event** (`200`; everything sent at once goes with it),
/// - when the handler **returns** (`200` and an empty stream; or the `reject!`ed response,
///   or the response of an `Err` as above; a panic before any event is answered `500`),
/// - **`head_wait` after the request** if the handler has sent nothing by then (`200`). By
///   default 1 s (`HEAD_WAIT`), or when the first heartbeat is due if that is sooner (with
///   the heartbeat first); `#[sse(head_wait = "5s")]` or the server's
///   `ServerSetup::head_wait` set it (heartbeats then wait for the head),
/// - or when the stream is closed (`close!()`, `SseSession::close`).
///
/// In one sentence: **an answer other than the stream (`reject!`, an `Err`) must come before
/// the first event and within `head_wait`**. So a check in the handler may await up to
/// `head_wait` before it answers, and a handler that waits for something to send still
/// opens the client's `EventSource` within it. An answer that comes later is logged at
/// `warn` (target `actix_sse`, with the route, the status it wanted and this fix) and ends
/// the stream: the client got `200` and an empty stream, and an `EventSource` reconnects.
/// After the first event the `200` head is on its way: `reject!` then only ends the stream
/// (like `close!()`, with a warning), and an `Err` is logged and ends the stream. A stream meant to open at once
/// can send a comment first: `send!(Event::comment("open"))`. The `retry` line
/// is not an event: it goes out with the head.
///
/// `204 No Content` tells a browser's `EventSource` to stop reconnecting, so a finished job
/// ends its clients with one line:
///
/// ```
/// use actix_sse::prelude::*;
/// use actix_web::{error::ErrorUnauthorized, HttpRequest, HttpResponse};
///
/// #[sse("/jobs/{id}")]
/// async fn job(req: HttpRequest, last: LastEventId) -> actix_web::Result<()> {
///     if req.headers().get("authorization").is_none() {
///         return Err(ErrorUnauthorized("log in first")); // 401, before any event
///     }
///     if last.as_deref() == Some("done") {
///         reject!(HttpResponse::NoContent()); // the client has it all: stop reconnecting
///     }
///     send!("working", id = "1")?;
///     send!("finished", id = "done")?;
///     Ok(())
/// }
/// # let _ = actix_web::App::new().service(job);
/// ```
///
/// Extractors that fail (a missing `web::Path` segment, an auth extractor) answer with
/// their own error, as in any actix-web handler: the function does not run.
///
/// **Stream style** (the return type names a `Stream`: `impl Stream<Item = T>`, `BoxStream`,
/// `Pin<Box<dyn Stream<..>>>`, …): the function's result is the stream. Items are events or
/// strings, or `Result`s of them (an `Err` item is logged and ends the stream); with
/// `serialize = ..`, values for the serializer.
///
/// A bare `yield` in the function's body cannot work on stable Rust: rustc rejects `yield`
/// syntax ("yield syntax is experimental") while it parses the attribute's input, before any
/// macro could rewrite it (checked on rustc 1.95). Build the stream with
/// `async_stream::stream! { .. yield value; .. }`, whose body rustc does not parse as code.
///
/// To answer before streaming (`401`, `404`, `204`), return `Result<impl Stream<..>, E>`:
/// `Err` is the response instead of the stream, that of an error converting into
/// `actix_web::Error` (`-> actix_web::Result<impl Stream<Item = Event>>`) or any `Responder`
/// as it is (`Err(HttpResponse::NoContent().finish())`).
///
/// ```
/// use actix_sse::prelude::*;
/// use actix_web::{error::ErrorNotFound, web};
///
/// #[sse("/rooms/{room}")]
/// async fn room(room: web::Path<String>) -> actix_web::Result<impl Stream<Item = Event>> {
///     if room.as_str() != "lobby" {
///         return Err(ErrorNotFound("no such room")); // 404, no stream
///     }
///     Ok(async_stream::stream! {
///         yield Event::data("welcome to the lobby");
///     })
/// }
/// # let _ = actix_web::App::new().service(room);
/// ```
///
/// # Arguments
///
/// - `"/path"` (first, optional): the route, a string literal starting with `/`, with
///   actix-web's `{dynamic}` segments. Present: a service; absent: a plain handler.
/// - `heartbeat = "15s"`: the idle time after which a heartbeat is sent (default 15 s, a `:`
///   comment line); an integer and a unit, `us`, `ms`, `s`, `m` or `h`, between `10ms` and
///   `24h`, checked at compile time. `heartbeat = "off"` turns it off (a vanished client is
///   then only noticed at the next event).
/// - `heartbeat_event = expr`: what the heartbeat sends instead of the comment: an `Event`,
///   or a string as its data (Ktor's `heartbeat { event = .. }`). Evaluated once per
///   request.
/// - `serialize = json | path::to::fn`: how `send!` values and stream items become the
///   event's data: `json` (serde_json, one line) or any function `fn(&T) -> String` or
///   `fn(&T) -> Result<String, E>`; a serializer error is logged and the event skipped.
///   `send!` of an `Event` or a `ChannelEvent` (or a reference to one) skips the serializer:
///   it goes out as it is, with the fields given to `send!`.
/// - `retry = "3s"`: sends `retry: 3000` first, so clients reconnect after that delay (in
///   milliseconds, at most `u64::MAX`).
/// - `head_wait = "5s"` (push style): how long the response head waits for the first event,
///   so that checks before it (a token lookup, a database query) may take that long and
///   still answer `401`, `404`, …; heartbeats wait for the head. By default the server's
///   (`ServerSetup::head_wait`), else 1 s or the first heartbeat if it is sooner. At most
///   `60s`.
/// - `method = "post"`: the HTTP method the service answers, `get` (the default), `post`,
///   `put`, `patch` or `delete` (any case). Fetch-based clients and LLM-style APIs stream the
///   answer to a `POST` whose body a `web::Json<T>` parameter reads. Browsers'
///   `EventSource` only sends `GET`. Needs a path.
/// - `name = "events"`: the resource name for `HttpRequest::url_for` (default: the function's
///   name). Needs a path.
/// - `guard = "fn_path"`: an extra guard, a function `fn(&GuardContext<'_>) -> bool` named in
///   a string (as in actix-web's `#[get]`); may be repeated. Needs a path.
/// - `wrap = "Middleware::new()"`: a middleware for this resource, an expression in a
///   string; may be repeated. Needs a path.
/// - `crate = "path"`: where the `actix-sse` crate is, if it is renamed in `Cargo.toml`
///   (default `::actix_sse`).
///
/// Every mistake is a compile error on the offending token that says how to fix it.
///
/// # Examples
///
/// ```
/// use actix_sse::{prelude::*, Stream};
/// use actix_web::{web, App};
/// use std::time::Duration;
///
/// // Push style, with a path: a service.
/// #[sse("/events", heartbeat = "10s")]
/// async fn events() {
///     for i in 0..6 {
///         send!(format!("this is SSE #{i}"), id = i);
///         tokio::time::sleep(Duration::from_millis(10)).await;
///     }
/// }
///
/// // Extractors, resumption, JSON, a fallible handler.
/// #[derive(serde::Serialize)]
/// struct Message {
///     room: String,
///     text: String,
/// }
///
/// #[sse("/rooms/{room}", serialize = json, retry = "3s")]
/// async fn room(room: web::Path<String>, last: LastEventId) -> Result<(), actix_sse::SendError> {
///     let start = last.as_deref().and_then(|id| id.parse().ok()).map_or(0, |id: u32| id + 1);
///     for id in start..3 {
///         let text = format!("message {id}");
///         send!(Message { room: room.to_string(), text }, event = "message", id = id)?;
///     }
///     Ok(())
/// }
///
/// // Stream style, without a path: a handler.
/// #[sse(heartbeat = "off")]
/// async fn feed() -> impl Stream<Item = Event> {
///     async_stream::stream! {
///         yield Event::data("hello");
///         yield Event::data("world").event("greeting");
///     }
/// }
///
/// let app = App::new()
///     .service(events)
///     .service(room)
///     .route("/feed", web::get().to(feed));
/// # let _ = app;
/// ```
///
/// # Expansion
///
/// `#[sse("/events", heartbeat = "10s")]` on `async fn events() { send!("hello"); }` is
/// equivalent to this code, written with the public runtime API (the real expansion names
/// everything through `::actix_sse::__private` and checks types at the user's tokens):
///
/// ```
/// use actix_sse::{Sender, Sse};
/// use actix_web::{dev::{AppService, HttpServiceFactory}, guard, Resource, Responder};
/// use std::time::Duration;
///
/// #[allow(non_camel_case_types)]
/// struct events;
///
/// impl HttpServiceFactory for events {
///     fn register(self, config: &mut AppService) {
///         async fn events() -> impl Responder {
///             // The body, in a function with the user's signature plus the sender.
///             async fn handler(tx: Sender) {
///                 // `send!(x);` as a statement: a refused event is logged.
///                 if let Err(e) = tx.send("hello").await {
///                     log::warn!("event not sent: {e}");
///                 }
///             }
///             // The head waits for the first event (or the return, or a heartbeat).
///             Sse::from_fn(handler)
///                 .heartbeat(Duration::from_secs(10))
///                 .start()
///                 .await
///         }
///         let resource = Resource::new("/events")
///             .name("events")
///             .guard(guard::Get())
///             .to(events);
///         HttpServiceFactory::register(resource, config);
///     }
/// }
/// # let _ = actix_web::App::new().service(events);
/// ```
///
/// In the real expansion, the function holding the body keeps the user's name and
/// parameters exactly (the sender reaches it through `__private`, not as a parameter), so
/// attributes written under `#[sse]` (`#[tracing::instrument]`, `#[must_use]`, …) see the
/// user's function; lint attributes (`#[allow]`, `#[expect]`, …) apply to every generated
/// item. Generated bindings are hygienic and shielded from user items of the same name;
/// as a consequence, inside the body an item named `__tx`, `__sse`, `__heartbeat_event`,
/// `__config`, `__resource`, `__sse_out`, `__sse_answer` or `__argN` cannot be named
/// directly.
///
/// Without a path, only the inner `async fn events() -> impl Responder` is emitted. A stream
/// handler calls the function and hands the stream to `Sse::from_stream` (or
/// `Sse::from_serialized_stream`). `SSE_MACROS_DEBUG=1` in the environment of the build
/// prints every expansion to stderr.
///
/// # Errors
///
/// A function that is not `async`:
///
/// ```compile_fail
/// use actix_sse::prelude::*;
///
/// #[sse("/events")]
/// fn events() { // error: `#[sse]` functions must be `async`
///     send!("hello");
/// }
/// # fn main() {}
/// ```
///
/// An unknown argument (with the closest known one suggested):
///
/// ```compile_fail
/// use actix_sse::prelude::*;
///
/// #[sse("/events", hearbeat = "10s")] // error: unknown `#[sse]` argument `hearbeat`; did you mean `heartbeat`?
/// async fn events() {
///     send!("hello");
/// }
/// # fn main() {}
/// ```
///
/// A duration that is not a duration:
///
/// ```compile_fail
/// use actix_sse::prelude::*;
///
/// #[sse("/events", heartbeat = "10 seconds")] // error: invalid duration `10 seconds`
/// async fn events() {}
/// # fn main() {}
/// ```
///
/// `send!` in a closure:
///
/// ```compile_fail
/// use actix_sse::prelude::*;
///
/// #[sse("/events")]
/// async fn events() {
///     ["a", "b"].iter().for_each(|s| {
///         send!(*s); // error: `send!` cannot be used inside a closure
///     });
/// }
/// # fn main() {}
/// ```
///
/// A value that is not an event, without a serializer, reported on the value (with the fix:
/// `serialize = json`, or a conversion):
///
/// ```compile_fail
/// use actix_sse::prelude::*;
///
/// #[derive(serde::Serialize)]
/// struct Customer { id: u32 }
///
/// #[sse("/events")]
/// async fn events() {
///     send!(Customer { id: 0 }); // error: `Customer` cannot be sent as an event
/// }
/// # fn main() {}
/// ```
///
/// A value the serializer cannot take, reported on the value:
///
/// ```compile_fail
/// use actix_sse::prelude::*;
///
/// struct NotSerialize;
///
/// #[sse("/events", serialize = json)]
/// async fn events() {
///     send!(NotSerialize); // error: `actix_sse::Json` cannot serialize a `NotSerialize`
/// }
/// # fn main() {}
/// ```
///
/// A stream of something that is not an event, reported on the return type:
///
/// ```compile_fail
/// use actix_sse::{prelude::*, Stream};
///
/// #[sse("/events")]
/// async fn events() -> impl Stream<Item = u32> { // error: `u32` cannot be an item of an SSE stream
///     futures_util::stream::iter(vec![1u32, 2])
/// }
/// # fn main() {}
/// ```
///
/// `send!` outside `#[sse]`:
///
/// ```compile_fail
/// use actix_sse::prelude::*;
///
/// async fn events() {
///     send!("hello"); // error: `send!` can only be used directly in the body of an `#[sse]` function
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn sse(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(args.into(), &mut errors);
    let item2 = TokenStream2::from(item.clone());
    let out = match syn::parse::<syn::ItemFn>(item) {
        Ok(item) => {
            let name = item.sig.ident.to_string();
            let expanded = expand::expand(args, item, &mut errors);
            let out = quote!(#errors #expanded);
            if std::env::var_os("SSE_MACROS_DEBUG").is_some_and(|v| v == "1") {
                eprintln!("#[sse] expansion of `{name}`:\n{out}\n");
            }
            out
        }
        Err(_) => {
            // Not a function: say so, and leave the item as it was.
            let span = item2
                .clone()
                .into_iter()
                .next()
                .map_or_else(proc_macro2::Span::call_site, |tt| tt.span());
            errors.push(syn::Error::new(
                span,
                "`#[sse]` can only be used on an `async fn`, like \
                 `#[sse(\"/events\")] async fn events() { send!(\"hello\"); }`",
            ));
            quote!(#errors #item2)
        }
    };
    out.into()
}

/// The errors found so far; emitted together as `compile_error!`s, each on its token.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }
}

impl ToTokens for Errors {
    fn to_tokens(&self, tokens: &mut TokenStream2) {
        for e in &self.0 {
            tokens.extend(e.to_compile_error());
        }
    }
}
