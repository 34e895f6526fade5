//! What a server needs so that its event streams end promptly: [`SseServerExt`], and
//! [`Shutdown`], which ends them cleanly when the server stops.

mod server;
mod shutdown;

pub use server::{ServerSetup, SseServerExt, DEFAULT_SEND_TIMEOUT};
pub(crate) use shutdown::Watch;
pub use shutdown::{Notified, Shutdown};
