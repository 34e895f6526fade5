//! The idle heartbeat: one timer per stream, re-armed whenever a chunk goes out.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use tokio::time::{Instant, Sleep};

use super::{shared::Shared, DEFAULT_HEARTBEAT};

pub(super) const DEFAULT_HEARTBEAT_FRAME: &[u8] = b":\n";

pub(super) struct Heartbeat {
    pub(super) period: Duration,
    pub(super) frame: Bytes,
    /// Created on the first poll (it needs the runtime), then only reset: one timer per
    /// stream for its whole life.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            period: DEFAULT_HEARTBEAT,
            frame: Bytes::from_static(DEFAULT_HEARTBEAT_FRAME),
            sleep: None,
        }
    }
}

impl Heartbeat {
    pub(super) fn poll(&mut self, cx: &mut Context<'_>, shared: &Shared) -> Poll<Bytes> {
        let period = self.period;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(period)));
        std::task::ready!(sleep.as_mut().poll(cx));
        sleep.as_mut().reset(Instant::now() + period);
        // An idle stream should not keep the capacity of a past burst.
        let mut buf = shared.buf.borrow_mut();
        if buf.capacity() > 4096 && buf.is_empty() {
            *buf = BytesMut::new();
            shared.chunk_hint.set(0);
        }
        Poll::Ready(self.frame.clone())
    }

    /// Idle-based heartbeat: a chunk went out, so push the deadline out. `reset` re-arms
    /// the same timer entry, no allocation.
    pub(super) fn rearm(&mut self) {
        if let Some(sleep) = &mut self.sleep {
            sleep.as_mut().reset(Instant::now() + self.period);
        }
    }
}
