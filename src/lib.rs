//! Declarative Server-Sent Events for actix-web.
//!
//! See the README for the quick start; the pieces are:
//!
//! - [`macro@sse`]: the attribute that turns an `async fn` into an SSE endpoint,
//!   with [`send!`] and [`close!`] inside its body,
//! - the runtime ([`Event`], [`Sse`], [`Sender`], [`SseSession`], [`LastEventId`],
//!   [`Json`]), usable without the macro.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

#[allow(unused_extern_crates)] // lets this crate's own tests and docs use `#[sse]`
extern crate self as actix_sse;

#[doc(inline)]
pub use sse_macros::sse;
pub use sse_runtime::*;

/// Everything a handler needs: `use actix_sse::prelude::*;`.
pub mod prelude {
    pub use crate::{close, send, sse, Event, Json, LastEventId, Sender, SseSession};
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

/// Ends the stream of an [`#[sse]`](macro@sse) handler without sending anything.
///
/// The `#[sse]` attribute rewrites every `close!()` in the handler's body; used anywhere
/// else, it is a compile error. Elsewhere, use [`SseSession::close`].
#[macro_export]
macro_rules! close {
    ($($tt:tt)*) => {
        ::core::compile_error! {
            "`close!` can only be used directly in the body of an `#[sse]` function; elsewhere, call `SseSession::close()`"
        }
    };
}

/// What generated code names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use ::actix_web;
    pub use ::sse_runtime::*;

    /// `send!(..);` as a statement: the handler did not look at the result, so a refused
    /// event is logged instead of silently lost. `Closed` is not logged: the stream is
    /// ending anyway.
    pub fn unhandled(result: Result<(), SendError>) {
        match result {
            Ok(()) | Err(SendError::Closed) => {}
            Err(e) => log::warn!(target: "actix_sse", "event not sent: {e}"),
        }
    }
}
