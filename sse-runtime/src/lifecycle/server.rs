//! One line of server setup for SSE: notice vanished clients and stuck readers promptly.

use std::{any::Any, fmt, future::Future, task::Poll, time::Duration};

use actix_web::{
    body::MessageBody,
    dev::{AppConfig, Extensions, Service, ServiceFactory},
    rt::net::TcpStream,
    Error, HttpServer,
};
use bytes::BytesMut;

use super::Shutdown;
use crate::{Event, InvalidEvent};

/// How long a client may leave sent bytes unread before its connection is dropped.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// The settings [`SseServerExt::sse_setup`] applies. `ServerSetup::default()` is what
/// [`SseServerExt::sse_defaults`] uses.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    send_timeout: Option<Duration>,
    shutdown: Shutdown,
    stop_signals: bool,
}

impl Default for ServerSetup {
    fn default() -> Self {
        ServerSetup {
            send_timeout: Some(DEFAULT_SEND_TIMEOUT),
            shutdown: Shutdown::new(),
            stop_signals: true,
        }
    }
}

impl ServerSetup {
    /// The defaults: a send timeout of [`DEFAULT_SEND_TIMEOUT`] (2 minutes), streams ended
    /// on `SIGINT` and `SIGTERM`, no last event.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long the server's bytes may stay unread (the client's receive window closed)
    /// or unacknowledged before the connection is dropped; `None` leaves it to the
    /// operating system (with a client that stops reading but keeps its connection open,
    /// that is forever). Rounded down to whole milliseconds, at least 1 ms.
    pub fn send_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.send_timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        self
    }

    /// The [`Shutdown`] handle of this server, to stop it from code with
    /// [`Shutdown::stop`] (a new one by default).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// How long a push handler's response head waits for its first event on this server,
    /// unless the handler sets its own (`#[sse(head_wait = "..")]`, [`Sse::head_wait`]):
    /// the time checks before the first `send!` may take and still answer `401`, `404`, …
    /// By default [`HEAD_WAIT`] (1 s), or until the first heartbeat if it is sooner. At most
    /// [`MAX_HEAD_WAIT`] (60 s): a longer one is lowered to it.
    ///
    /// [`Sse::head_wait`]: crate::Sse::head_wait
    /// [`HEAD_WAIT`]: crate::HEAD_WAIT
    /// [`MAX_HEAD_WAIT`]: crate::MAX_HEAD_WAIT
    pub fn head_wait(self, wait: Duration) -> Self {
        self.shutdown
            .set_head_wait(Some(wait.min(crate::MAX_HEAD_WAIT)));
        self
    }

    /// The event every stream sends last when the server stops: for instance a named
    /// event the page shows (`Event::data("restarting").event("shutdown")`), or a
    /// `retry` hint so that clients reconnect soon (`Event::new().retry(..)`). None by
    /// default. An event that could not be sent is refused here.
    pub fn shutdown_event(self, event: &Event) -> Result<Self, InvalidEvent> {
        let mut frame = BytesMut::new();
        event.encode(&mut frame)?;
        self.shutdown
            .set_last_event((!frame.is_empty()).then(|| frame.freeze()));
        Ok(self)
    }

    /// Whether `SIGINT` and `SIGTERM` (Ctrl-C on Windows) stop the server gracefully,
    /// ending every stream first (default `true`). Both are handled alike (actix-web alone
    /// stops at once on `SIGINT`). With `false`, no signal is handled, not even by
    /// actix-web: stop the server with [`Shutdown::stop`].
    pub fn stop_signals(mut self, handle: bool) -> Self {
        self.stop_signals = handle;
        self
    }
}

/// Server settings that event streams need, on actix-web's [`HttpServer`] in one call.
///
/// ```no_run
/// use actix_sse::prelude::*;
/// use actix_web::{App, HttpServer};
///
/// #[sse("/events")]
/// async fn events() {
///     send!("hello");
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     HttpServer::new(|| App::new().service(events))
///         .sse_defaults()
///         .bind(("127.0.0.1", 8080))?
///         .run()
///         .await
/// }
/// ```
///
/// What it sets:
///
/// - **A client that goes away is noticed at the next write**, so its handler is dropped at
///   the latest at the next heartbeat (`h1_allow_half_closed(false)`). With actix-web's
///   default, a client's close is only noticed at the second write after it, and a stream
///   whose handler sends nothing keeps its handler until then.
/// - **Streams end cleanly when the server stops.** On `SIGINT` or `SIGTERM` (or
///   [`Shutdown::stop`]), every open stream sends the last event if one is set
///   ([`ServerSetup::shutdown_event`]), ends with its final chunk and drops its handler; then
///   the server stops gracefully: connections close as their streams end, and the server's
///   future resolves about a second later (actix-web checks its workers every second). A
///   client that does not read holds its stream until `shutdown_timeout`. `ServerHandle::stop(true)`
///   cannot be noticed by the application (actix-web tells only its connections): use
///   [`Shutdown::stop`], which ends the streams and then stops the server the same way.
///   This replaces actix-web's own signal handling ([`HttpServer::shutdown_signal`]).
/// - **A client that stops reading is dropped** once the server's bytes have waited
///   [`DEFAULT_SEND_TIMEOUT`] (2 minutes) without being read or acknowledged (the socket
///   option `TCP_USER_TIMEOUT`, on Linux). Until then it costs the stream's bounded
///   buffers and a parked handler; without it, such a client is held as long as it keeps
///   its connection open. This uses [`HttpServer::on_connect`]: a callback set there after
///   this call replaces it. It applies to plain TCP connections.
pub trait SseServerExt: Sized {
    /// Applies [`ServerSetup::default()`].
    fn sse_defaults(self) -> Self {
        self.sse_setup(ServerSetup::default())
    }

    /// Applies `setup`.
    fn sse_setup(self, setup: ServerSetup) -> Self;
}

impl<F, I, S, B> SseServerExt for HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<actix_http::Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<actix_web::dev::Response<B>> + 'static,
    <S::Service as Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    fn sse_setup(self, setup: ServerSetup) -> Self {
        let ServerSetup {
            send_timeout,
            shutdown,
            stop_signals,
        } = setup;
        let on_connect = shutdown.clone();
        self.h1_allow_half_closed(false)
            .on_connect(move |conn: &dyn Any, ext: &mut Extensions| {
                // Streams on this worker watch this server's shutdown.
                on_connect.enter();
                ext.insert(on_connect.clone());
                if let (Some(timeout), Some(tcp)) = (send_timeout, conn.downcast_ref::<TcpStream>())
                {
                    set_send_timeout(tcp, timeout);
                }
            })
            .shutdown_signal(async move {
                let signal = stop_signal(stop_signals);
                let stopped = shutdown.notified();
                let mut signal = std::pin::pin!(signal);
                let mut stopped = std::pin::pin!(stopped);
                std::future::poll_fn(|cx| {
                    if stopped.as_mut().poll(cx).is_ready() || signal.as_mut().poll(cx).is_ready() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
                // Streams first: their connections close as they end, so the graceful stop
                // that follows finds them done.
                shutdown.stop();
            })
    }
}

/// `SIGINT` or `SIGTERM` (Ctrl-C elsewhere than on Unix); never, if not `handle`d.
async fn stop_signal(handle: bool) {
    if !handle {
        return std::future::pending().await;
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            log::error!(target: "actix_sse", "could not listen to SIGINT and SIGTERM");
            return std::future::pending().await;
        };
        let name = std::future::poll_fn(|cx| {
            if int.poll_recv(cx).is_ready() {
                Poll::Ready("SIGINT")
            } else if term.poll_recv(cx).is_ready() {
                Poll::Ready("SIGTERM")
            } else {
                Poll::Pending
            }
        })
        .await;
        log::info!(target: "actix_sse", "{name} received: ending every event stream, then stopping");
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            return std::future::pending().await;
        }
        log::info!(target: "actix_sse", "Ctrl-C received: ending every event stream, then stopping");
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
fn set_send_timeout(tcp: &TcpStream, timeout: Duration) {
    if let Err(e) = socket2::SockRef::from(tcp).set_tcp_user_timeout(Some(timeout)) {
        log::warn!(target: "actix_sse", "could not set the send timeout (TCP_USER_TIMEOUT): {e}");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "fuchsia")))]
fn set_send_timeout(_: &TcpStream, _: Duration) {}
