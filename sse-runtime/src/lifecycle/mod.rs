//! What a server needs so that its event streams end promptly: [`SseServerExt`].

mod server;

pub use server::{ServerSetup, SseServerExt, DEFAULT_SEND_TIMEOUT};
