//! One line of server setup for SSE: notice vanished clients and stuck readers promptly.

use std::{any::Any, fmt, time::Duration};

use actix_web::{
    body::MessageBody,
    dev::{AppConfig, Extensions, Service, ServiceFactory},
    rt::net::TcpStream,
    Error, HttpServer,
};

/// How long a client may leave sent bytes unread before its connection is dropped.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// The settings [`SseServerExt::sse_setup`] applies. `ServerSetup::default()` is what
/// [`SseServerExt::sse_defaults`] uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSetup {
    send_timeout: Option<Duration>,
}

impl Default for ServerSetup {
    fn default() -> Self {
        ServerSetup {
            send_timeout: Some(DEFAULT_SEND_TIMEOUT),
        }
    }
}

impl ServerSetup {
    /// The defaults: a send timeout of [`DEFAULT_SEND_TIMEOUT`] (2 minutes).
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
        let server = self.h1_allow_half_closed(false);
        match setup.send_timeout {
            None => server,
            Some(timeout) => server.on_connect(move |conn: &dyn Any, _: &mut Extensions| {
                if let Some(tcp) = conn.downcast_ref::<TcpStream>() {
                    set_send_timeout(tcp, timeout);
                }
            }),
        }
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
