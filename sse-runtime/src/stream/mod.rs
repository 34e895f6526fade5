//! The streaming body: [`Sse`] drives a handler (or a `Stream`) from its own `poll_next`,
//! with heartbeat, back-pressure, coalescing, close and panic isolation.

mod body;
mod heartbeat;
mod probe;
mod sender;
mod shared;
mod source;
mod start;
mod trace;

use std::time::Duration;

pub use body::{Sse, SseError};
pub use probe::{PeerProbe, PROBE_PERIOD};
pub use sender::{SendError, Sender};
#[doc(hidden)]
pub use source::ItemError;
#[doc(hidden)]
pub use source::Outcome;
pub(crate) use source::Source;
pub use source::{
    FnSource, HandlerResult, ItemEncoder, Plain, StreamItem, StreamSource, WithSerializer,
};
pub(crate) use start::stream_response;
pub use start::{Start, Started};

/// Default heartbeat period.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// How long a push handler's response head waits for the first event by default (see
/// [`Sse::start`]): a check before the first `send!` may take this long and still answer
/// something else than the stream. With a shorter heartbeat, the head goes out with the
/// first heartbeat instead. Set per handler with `#[sse(head_wait = "5s")]` or
/// [`Sse::head_wait`], per server with
/// [`ServerSetup::head_wait`](crate::ServerSetup::head_wait).
pub const HEAD_WAIT: Duration = Duration::from_secs(1);

/// The longest `head_wait`: clients and proxies give up on a response that has not started
/// long before a minute is over.
pub const MAX_HEAD_WAIT: Duration = Duration::from_secs(60);

/// Default back-pressure limit: bytes encoded but not yet taken by actix-web, per stream.
///
/// Half of actix-web's own write buffer: a chunk is copied into it while still in the
/// processor's cache, and a slow client holds less memory.
pub const DEFAULT_BUFFER: usize = 16 * 1024;

/// The shortest heartbeat period: shorter ones are raised to it.
pub const MIN_HEARTBEAT: Duration = Duration::from_millis(10);

/// The longest heartbeat period: longer ones are lowered to it.
pub const MAX_HEARTBEAT: Duration = Duration::from_secs(24 * 60 * 60);
