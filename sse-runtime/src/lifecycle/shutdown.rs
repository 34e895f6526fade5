//! [`Shutdown`]: ends every event stream of a server cleanly when it stops.

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt,
    future::{ready, Future, Ready},
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use bytes::Bytes;

/// The graceful stop of one server's event streams.
///
/// When it is triggered — by `SIGINT` or `SIGTERM` on a server set up with
/// [`sse_defaults`](crate::SseServerExt::sse_defaults), or by [`stop`](Self::stop) — every
/// open stream of that server sends the last event, if one is set
/// ([`ServerSetup::shutdown_event`](crate::ServerSetup::shutdown_event)), ends cleanly
/// (final chunk) and drops its handler (its locals' `Drop` runs); then the server stops
/// gracefully. Clients see a clean end and reconnect (to another instance, during a
/// deploy) after their `retry` delay, with `Last-Event-ID`.
///
/// Streams end at once: no new event is accepted after the trigger, and what was already
/// sent goes out first. Only a client that does not read can hold its stream, until the
/// server's `shutdown_timeout`.
///
/// As an extractor (`shutdown: Shutdown` in a handler's parameters), it is the server's
/// handle, so that a handler can await [`notified`](Self::notified) (for instance in a
/// `tokio::select!`) to clean up; on a server not set up with
/// [`SseServerExt`](crate::SseServerExt), it is a handle that never triggers. Cheap to
/// clone, `Send` and `Sync`.
///
/// ```no_run
/// use actix_sse::{prelude::*, ServerSetup, Shutdown};
/// use actix_web::{App, HttpServer};
///
/// #[sse("/events")]
/// async fn events() {
///     send!("hello");
///     std::future::pending::<()>().await;
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let shutdown = Shutdown::new();
///     let server = HttpServer::new(|| App::new().service(events))
///         .sse_setup(ServerSetup::new().shutdown(shutdown.clone()))
///         .bind(("127.0.0.1", 8080))?
///         .run();
///     // Later, from anywhere: end every stream, then stop the server gracefully.
///     actix_web::rt::spawn(async move {
///         tokio::time::sleep(std::time::Duration::from_secs(60)).await;
///         shutdown.stop();
///     });
///     server.await
/// }
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    next_id: AtomicU64,
    waiters: Mutex<HashMap<u64, Waker>>,
    /// The last event's frame, sent by every stream before it ends.
    last_event: Mutex<Option<Bytes>>,
    /// The server's `head_wait` in nanoseconds plus one (0: not set).
    head_wait: AtomicU64,
}

std::thread_local! {
    /// The shutdown of the server whose worker runs on this thread (set for each of its
    /// connections): streams created here watch it.
    static CURRENT: RefCell<Option<Shutdown>> = const { RefCell::new(None) };
}

impl Shutdown {
    /// A new handle, not triggered. Give it to the server with
    /// [`ServerSetup::shutdown`](crate::ServerSetup::shutdown).
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends every open stream of the server now, then stops the server gracefully (as
    /// `ServerHandle::stop(true)` would). Calling it again does nothing.
    pub fn stop(&self) {
        if self.inner.triggered.swap(true, Ordering::AcqRel) {
            return;
        }
        let waiters = std::mem::take(&mut *lock(&self.inner.waiters));
        for (_, waker) in waiters {
            waker.wake();
        }
    }

    /// True once [`stop`](Self::stop) was called or a stop signal arrived.
    pub fn is_stopping(&self) -> bool {
        self.inner.triggered.load(Ordering::Acquire)
    }

    /// Resolves when the server begins to stop (at once if it has).
    pub fn notified(&self) -> Notified {
        Notified {
            watch: Watch::new(self.clone()),
        }
    }

    pub(crate) fn set_head_wait(&self, wait: Option<Duration>) {
        let nanos = wait.map_or(0, |w| {
            u64::try_from(w.as_nanos()).unwrap_or(u64::MAX - 1) + 1
        });
        self.inner.head_wait.store(nanos, Ordering::Relaxed);
    }

    /// The server's `head_wait`, if set.
    pub(crate) fn head_wait(&self) -> Option<Duration> {
        match self.inner.head_wait.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n - 1)),
        }
    }

    pub(crate) fn set_last_event(&self, frame: Option<Bytes>) {
        *lock(&self.inner.last_event) = frame;
    }

    pub(crate) fn last_event(&self) -> Option<Bytes> {
        lock(&self.inner.last_event).clone()
    }

    /// Makes this the shutdown that streams created on this thread watch.
    pub(crate) fn enter(&self) {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if !c
                .as_ref()
                .is_some_and(|s| Arc::ptr_eq(&s.inner, &self.inner))
            {
                *c = Some(self.clone());
            }
        });
    }

    /// The shutdown streams created on this thread watch, if the server set one.
    pub(crate) fn current() -> Option<Shutdown> {
        CURRENT.with(|c| c.borrow().clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("stopping", &self.is_stopping())
            .finish()
    }
}

/// The server's [`Shutdown`] (see there); never fails.
impl FromRequest for Shutdown {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req
            .conn_data::<Shutdown>()
            .cloned()
            .or_else(Shutdown::current)
            .unwrap_or_default()))
    }
}

/// One watcher of a [`Shutdown`]: a stream's, or a [`Notified`]'s. Registers its waker
/// once per task, and unregisters on drop.
pub(crate) struct Watch {
    shutdown: Shutdown,
    id: u64,
    registered: Option<Waker>,
}

impl Watch {
    pub(crate) fn new(shutdown: Shutdown) -> Self {
        let id = shutdown.inner.next_id.fetch_add(1, Ordering::Relaxed);
        Watch {
            shutdown,
            id,
            registered: None,
        }
    }

    pub(crate) fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Ready once the shutdown is triggered.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.shutdown.is_stopping() {
            return Poll::Ready(());
        }
        if !self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            lock(&self.shutdown.inner.waiters).insert(self.id, cx.waker().clone());
            self.registered = Some(cx.waker().clone());
            // Triggered while registering: its wake-up may have missed this waker.
            if self.shutdown.is_stopping() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.registered.is_some() {
            lock(&self.shutdown.inner.waiters).remove(&self.id);
        }
    }
}

/// The future of [`Shutdown::notified`].
pub struct Notified {
    watch: Watch,
}

impl Future for Notified {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.watch.poll(cx)
    }
}

impl fmt::Debug for Notified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified").finish_non_exhaustive()
    }
}
