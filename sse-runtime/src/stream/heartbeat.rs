//! The idle heartbeat: one timer per stream, moved past the last chunk when it fires.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use tokio::time::{Instant, Sleep};

use super::{shared::Shared, DEFAULT_HEARTBEAT};

const DEFAULT_HEARTBEAT_FRAME: &[u8] = b":\n";

pub(super) struct Heartbeat {
    pub(super) period: Duration,
    /// A custom heartbeat event's frame (`None`: the `:` comment). Boxed: most streams
    /// keep the default, and an idle stream's memory is mostly its state.
    custom: Option<Box<Bytes>>,
    /// Created on the first poll (it needs the runtime), then only reset: one timer per
    /// stream for its whole life.
    sleep: Option<Pin<Box<Sleep>>>,
    /// When the last chunk went out, if one did since the timer was set: the timer is
    /// moved once it fires, not at every chunk (resetting a tokio timer takes the lock of
    /// the time driver that every stream of the worker shares).
    last_chunk: Option<Instant>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            period: DEFAULT_HEARTBEAT,
            custom: None,
            sleep: None,
            last_chunk: None,
        }
    }
}

impl Heartbeat {
    /// Ready with the heartbeat's frame once the stream has been idle for a whole period.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>, shared: &Shared) -> Poll<Bytes> {
        let period = self.period;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(period)));
        loop {
            std::task::ready!(sleep.as_mut().poll(cx));
            // Chunks went out since the timer was set: idle only since the last one.
            match self.last_chunk.take() {
                Some(at) if at + period > sleep.deadline() => sleep.as_mut().reset(at + period),
                _ => break,
            }
        }
        sleep.as_mut().reset(Instant::now() + period);
        // An idle stream should not keep the capacity of a past burst.
        let mut buf = shared.buf.borrow_mut();
        if buf.capacity() > 4096 && buf.is_empty() {
            *buf = BytesMut::new();
            shared.chunk_hint.set(0);
        }
        Poll::Ready(self.frame())
    }

    /// The frame a heartbeat sends.
    pub(super) fn frame(&self) -> Bytes {
        match &self.custom {
            Some(frame) => Bytes::clone(frame),
            None => Bytes::from_static(DEFAULT_HEARTBEAT_FRAME),
        }
    }

    /// Sends `frame` as the heartbeat instead of the `:` comment (`None`: the comment).
    pub(super) fn set_frame(&mut self, frame: Option<Bytes>) {
        self.custom = frame.map(Box::new);
    }

    /// Idle-based heartbeat: a chunk went out, so the next heartbeat is due a period
    /// after it (the timer is moved there when it fires).
    pub(super) fn rearm(&mut self) {
        if self.sleep.is_some() {
            self.last_chunk = Some(Instant::now());
        }
    }
}
