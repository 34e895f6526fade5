//! The state a stream's body shares with its senders, and the write step every send uses.

use std::{
    cell::{Cell, OnceCell, RefCell},
    rc::Rc,
    task::{Context, Poll, Waker},
};

use bytes::BytesMut;

use super::{start::Answer, SendError, DEFAULT_BUFFER};
use crate::metrics::{self, COUNTERS};

/// State shared by a stream's body and its [`Sender`]s. Single-threaded: actix-web runs a
/// connection's handler and body on one worker thread. `pub` only because the sealed
/// [`Source`] trait names it; it cannot be named outside this crate.
#[allow(unreachable_pub)]
pub struct Shared {
    pub(super) buf: RefCell<BytesMut>,
    /// The body's task, for a `close()` or a send from another task on this thread.
    pub(super) body_waker: Cell<Option<Waker>>,
    /// What the log calls the handler (`GET /events`, set by `#[sse]`), or empty.
    pub(super) label: Cell<&'static &'static str>,
    /// What few streams need, allocated by the first that does: an idle stream's memory
    /// is mostly its state.
    rare: OnceCell<Box<Rare>>,
    /// The back-pressure limit, bytes (see [`limit`](Self::limit)).
    limit: Cell<u32>,
    /// The size of the last chunk handed to actix-web: what the next one will likely need.
    pub(super) chunk_hint: Cell<u32>,
    /// The bytes at the start of the buffer that are not events (the `retry` line written
    /// before the first event): more than these means an event was sent.
    pub(super) prefix: Cell<u32>,
    /// Events written since the last chunk went out: added to the process-wide counter
    /// with that chunk, so that an event costs no atomic operation.
    pub(super) events: Cell<u32>,
    pub(super) closed: Cell<bool>,
    /// True while the body itself polls the handler: a full buffer then needs no waker,
    /// because the body polls the handler again right after the flush.
    pub(super) in_body: Cell<bool>,
    /// The response head has gone out: the status can no longer change.
    pub(super) head_sent: Cell<bool>,
    /// The stream ends because of an error (a handler's `Err`, an `Err` item, a late
    /// rejection): how its end is counted.
    pub(super) failed: Cell<bool>,
    /// An event has gone out in a chunk.
    pub(super) delivered: Cell<bool>,
    /// The stream's `tracing` span (feature `tracing`; nothing without it).
    pub(super) trace: super::trace::Trace,
}

/// The part of [`Shared`] that most streams never use.
#[derive(Default)]
pub(super) struct Rare {
    /// Senders in other tasks waiting for room.
    pub(super) waiters: Cell<Vec<Waker>>,
    /// What the handler answered instead of the stream, before it started.
    pub(super) answer: Cell<Option<Answer>>,
    /// The handler's own `head_wait`, if it set one.
    pub(super) head_wait: Cell<Option<std::time::Duration>>,
    /// The route, for the stream's start and end in the log (only kept when `debug` is
    /// enabled for target `actix_sse`).
    pub(super) route: Cell<Option<Box<str>>>,
    /// The handler's panic message, until the stream's error reports it.
    pub(super) panic: Cell<Option<Box<str>>>,
}

impl Shared {
    pub(super) fn new() -> Rc<Self> {
        Rc::new(Self {
            buf: RefCell::new(BytesMut::new()),
            body_waker: Cell::new(None),
            label: Cell::new(&""),
            rare: OnceCell::new(),
            limit: Cell::new(DEFAULT_BUFFER as u32),
            chunk_hint: Cell::new(0),
            prefix: Cell::new(0),
            events: Cell::new(0),
            closed: Cell::new(false),
            in_body: Cell::new(false),
            head_sent: Cell::new(false),
            failed: Cell::new(false),
            delivered: Cell::new(false),
            trace: super::trace::Trace::new(),
        })
    }

    /// The rarely used part, if a stream has used it.
    #[inline]
    pub(super) fn rare(&self) -> Option<&Rare> {
        self.rare.get().map(|r| &**r)
    }

    /// The rarely used part, allocated on first use.
    pub(super) fn rare_or_init(&self) -> &Rare {
        self.rare.get_or_init(Box::default)
    }

    /// The back-pressure limit: bytes encoded but not yet taken by actix-web.
    #[inline]
    pub(super) fn limit(&self) -> usize {
        self.limit.get() as usize
    }

    /// Sets the back-pressure limit (at least 1 byte, at most 4 GiB).
    pub(super) fn set_limit(&self, bytes: usize) {
        self.limit
            .set(u32::try_from(bytes.max(1)).unwrap_or(u32::MAX));
    }

    /// The handler's own `head_wait`, if it set one.
    pub(super) fn head_wait(&self) -> Option<std::time::Duration> {
        self.rare().and_then(|r| r.head_wait.get())
    }

    /// Room for one more event now, on an open stream: what most sends find, and then
    /// they write at their first poll without registering anything.
    #[inline]
    pub(super) fn has_room(&self) -> bool {
        !self.closed.get() && self.buf.borrow().len() < self.limit()
    }

    /// Room for one more event? `yielded` is the calling send's own state.
    pub(super) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        yielded: &mut bool,
    ) -> Poll<Result<(), SendError>> {
        if self.closed.get() {
            if self.in_body.get() {
                // The handler itself, inside the body: a closed body never polls it again
                // and drops it, so this send never completes. Returning `Closed` at once
                // would let a loop of sends after a close spin without ever yielding.
                return Poll::Pending;
            }
            if !*yielded {
                // A sender in another task: yield once before reporting, so that a loop
                // that ignores the error still lets the worker run other tasks.
                *yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            return Poll::Ready(Err(SendError::Closed));
        }
        if self.buf.borrow().len() < self.limit() {
            return Poll::Ready(Ok(()));
        }
        if !self.in_body.get() {
            let rare = self.rare_or_init();
            let mut waiters = rare.waiters.take();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            rare.waiters.set(waiters);
        }
        Poll::Pending
    }

    /// Runs `write` on the buffer and returns the bytes it wrote; whatever it wrote is
    /// removed again if it fails or panics (user code — `IntoEvent` impls, serializers —
    /// runs inside), so a refused event leaves no partial frame behind.
    pub(super) fn write<E>(
        &self,
        write: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<usize, E> {
        struct Rollback<'a> {
            buf: &'a mut BytesMut,
            start: usize,
            armed: bool,
        }
        impl Drop for Rollback<'_> {
            fn drop(&mut self) {
                if self.armed {
                    self.buf.truncate(self.start);
                }
            }
        }
        let mut buf = self.buf.borrow_mut();
        if buf.is_empty() {
            // The last chunk has been copied out by actix-web and dropped, so the whole
            // allocation is ours again: `reserve` on an empty buffer moves it back to the
            // front of that allocation without copying or allocating. Left alone, the next
            // chunk would fill the old allocation's tail and then be moved to the front.
            let hint = self.chunk_hint.get() as usize;
            if buf.capacity() < hint {
                buf.reserve(hint);
            }
        }
        let start = buf.len();
        let mut guard = Rollback {
            buf: &mut buf,
            start,
            armed: true,
        };
        let result = write(guard.buf);
        guard.armed = result.is_err();
        result.map(|()| guard.buf.len() - start)
    }

    /// One more event written (counted when its chunk goes out).
    #[inline]
    pub(super) fn count_event(&self) {
        self.events.set(self.events.get().wrapping_add(1));
    }

    /// One event refused (not written).
    pub(super) fn count_refused(&self) {
        metrics::add(&COUNTERS.events_refused, 1);
    }

    /// After a send or close from another task on this thread (a `Sender` clone moved into
    /// a spawned local task), the body must be woken to flush or end. From the handler
    /// itself it is not needed: the body looks right after polling it.
    pub(super) fn wake_body(&self) {
        if !self.in_body.get() {
            if let Some(waker) = self.body_waker.take() {
                waker.wake();
            }
        }
    }

    pub(super) fn wake_senders(&self) {
        let Some(rare) = self.rare() else {
            return;
        };
        let mut waiters = rare.waiters.take();
        // Waking schedules a task; it does not run it here (the list is out meanwhile).
        for w in waiters.drain(..) {
            w.wake();
        }
        rare.waiters.set(waiters);
    }
}
