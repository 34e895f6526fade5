//! The engine of [actix-sse](https://docs.rs/actix-sse): WHATWG-exact Server-Sent Events
//! for actix-web, usable without the `#[sse]` macro.
//!
//! - [`Event`] and its encoder (every rule of the WHATWG event-stream format; no input can
//!   inject a field or an event),
//! - [`Sse`], the response body that drives a handler future or a `Stream` from its own
//!   `poll_next`, with heartbeat, back-pressure, coalescing, close and panic isolation,
//! - [`Sender`] (what `send!` calls), [`SseSession`] (close from anywhere) and
//!   [`LastEventId`] (resume),
//! - serializers: [`Json`] and any `fn(&T) -> String`,
//! - [`metrics()`]: process-wide counters (open streams, events, bytes, how streams
//!   ended), with a Prometheus rendering,
//! - `client` (feature `client`): an SSE client on `awc` that reconnects and resumes as a
//!   browser does, and whose events `send!` relays as they came,
//! - [`dev`]: the lower-level types that appear in signatures and compiler errors.
//!
//! Users normally depend on the facade crate `actix-sse`, which re-exports all of this,
//! and whose `guide` module is the manual.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod channels;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
pub mod dev;
mod encode;
mod event;
mod fields;
mod lifecycle;
mod metrics;
// The one WHATWG parser of the project: the client's and the test client's (`actix_sse::test::Parser`).
#[doc(hidden)]
pub mod parse;
mod response;
mod serialize;
mod session;
mod stream;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use channels::BackendError;
pub use channels::{
    ChannelEvent, Channels, ChannelsBuilder, EventId, InvalidEventId, Lag, PublishError,
    Subscription,
};
pub use event::{Event, Field, IntoEvent, InvalidEvent};
#[doc(hidden)]
pub use fields::Slot;
pub use lifecycle::{ServerSetup, Shutdown, SseServerExt, DEFAULT_SEND_TIMEOUT};
pub use metrics::{metrics, Metrics};
pub use serialize::{DataWriter, Json, SerializeError, Serializer};
pub use session::{InvalidLastEventId, LastEventId, SseSession};
#[doc(hidden)]
pub use stream::{ItemError, Outcome};
pub use stream::{
    PeerProbe, SendError, Sender, Sse, DEFAULT_BUFFER, DEFAULT_HEARTBEAT, HEAD_WAIT, MAX_HEAD_WAIT,
    MAX_HEARTBEAT, MIN_HEARTBEAT, PROBE_PERIOD,
};
// What `dev` documents stays nameable here (generated code and older imports use these
// paths), out of the root's documentation.
#[doc(hidden)]
pub use dev::*;

/// Expands its input when the `client` feature is on (for the facade's `send!` support of
/// the client's events, whichever crate enabled the feature).
#[cfg(feature = "client")]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_client {
    ($($tt:tt)*) => { $($tt)* };
}

/// Expands its input when the `client` feature is on.
#[cfg(not(feature = "client"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_client {
    ($($tt:tt)*) => {};
}
