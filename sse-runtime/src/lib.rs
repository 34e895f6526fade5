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
//!   ended), with a Prometheus rendering.
//!
//! Users normally depend on the facade crate `actix-sse`, which re-exports all of this.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod channels;
mod encode;
mod event;
mod fields;
mod lifecycle;
mod metrics;
mod response;
mod serialize;
mod session;
mod stream;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use channels::BackendError;
pub use channels::{
    ChannelEvent, Channels, ChannelsBuilder, EventId, IntoResumeFrom, InvalidEventId, Lag,
    PublishError, ResumeFrom, Subscription,
};
pub use event::{Event, Field, IntoEvent, InvalidEvent};
#[doc(hidden)]
pub use fields::Slot;
pub use fields::{EventFields, FieldValue, Fields, Formatted, Unset};
pub use lifecycle::{Notified, ServerSetup, Shutdown, SseServerExt, DEFAULT_SEND_TIMEOUT};
pub use metrics::{metrics, Metrics};
pub use serialize::{DataWriter, Json, SerializeError, Serializer, SerializerOutput};
pub use session::{InvalidLastEventId, LastEventId, SseSession};
pub use stream::{
    FnSource, HandlerResult, ItemEncoder, PeerProbe, Plain, SendError, Sender, Sse, SseError,
    Start, Started, StreamItem, StreamSource, WithSerializer, DEFAULT_BUFFER, DEFAULT_HEARTBEAT,
    HEAD_WAIT, MAX_HEARTBEAT, MIN_HEARTBEAT, PROBE_PERIOD,
};
#[doc(hidden)]
pub use stream::{ItemError, Outcome};
