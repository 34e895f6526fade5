//! Lower-level types: those that appear in signatures and compiler errors, and the parts
//! of [`Sender::send_with`](crate::Sender::send_with). Most code never names them.
//!
//! - The response types of [`Sse`](crate::Sse)'s constructors: [`FnSource`] for
//!   [`Sse::from_fn`](crate::Sse::from_fn), [`StreamSource`] with [`Plain`] or
//!   [`WithSerializer`] for the stream constructors, and [`Start`] / [`Started`] for
//!   [`Sse::start`](crate::Sse::start), which answers before streaming.
//! - The bounds they check, which compiler errors name: [`HandlerResult`] (what a
//!   handler returns), [`StreamItem`] (what a stream yields), [`ItemEncoder`] and
//!   [`SerializerOutput`] (what a serializer function returns).
//! - The fields of [`Sender::send_with`](crate::Sender::send_with), which `send!(value,
//!   id = ..)` builds: [`Fields`], [`Formatted`], [`Unset`], and the traits
//!   [`EventFields`] and [`FieldValue`].
//! - [`ResumeFrom`] and [`IntoResumeFrom`], what
//!   [`Channels::subscribe`](crate::Channels::subscribe) takes as a `Last-Event-ID`;
//!   [`Notified`], the future of [`Shutdown::notified`](crate::Shutdown::notified); and
//!   [`SseError`], the error of a body whose handler panicked.
//!
//! They are also reachable from the crate root, where the documentation leaves them out.

pub use crate::channels::{IntoResumeFrom, ResumeFrom};
pub use crate::fields::{EventFields, FieldValue, Fields, Formatted, Unset};
pub use crate::lifecycle::Notified;
pub use crate::serialize::SerializerOutput;
pub use crate::stream::{
    FnSource, HandlerResult, ItemEncoder, Plain, SseError, Start, Started, StreamItem,
    StreamSource, WithSerializer,
};
