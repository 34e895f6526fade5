//! Shared test plumbing: a real actix-web server on 127.0.0.1:0 and an independent SSE
//! parser (`eventsource-stream`, not ours) over a real HTTP client (`awc`).
#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod redis;

use std::time::Duration;

use actix_web::HttpMessage as _;

/// A test that needs a program of the system goes on only if it is here: otherwise it
/// fails, saying what to install, or how to leave such tests out (their names start with
/// `group`, so `cargo test -- --skip <group>` filters them, and the summary counts them as
/// filtered out). Never a silent pass.
pub fn require(group: &str, missing: Option<String>) {
    if let Some(what) = missing {
        panic!(
            "this test needs {what}, which is not here: install it (`.ci/run` installs every \
             prerequisite; see the README's Testing section), or leave these tests out with \
             `cargo test -- --skip {group}`"
        );
    }
}

/// `None` if `program --version` runs, else what to install.
pub fn program(program: &str, install: &str) -> Option<String> {
    match std::process::Command::new(program)
        .arg("--version")
        .output()
    {
        Ok(_) => None,
        Err(_) => Some(format!("`{program}` (`{install}`)")),
    }
}
use futures_util::{Stream, StreamExt};

/// Starts `HttpServer::new($factory)` on 127.0.0.1:0 with one worker; evaluates to
/// `(SocketAddr, ServerHandle)`. The server runs on the current actix system.
#[macro_export]
macro_rules! serve {
    ($factory:expr) => {
        serve!($factory, |s| s)
    };
    // On a given port: a server stopped and started again there, for a client to come back.
    (port $port:expr, $factory:expr) => {
        serve!(@on $port, $factory, |s| s)
    };
    ($factory:expr, $configure:expr) => {
        serve!(@on 0, $factory, $configure)
    };
    (@on $port:expr, $factory:expr, $configure:expr) => {{
        let server = ::actix_web::HttpServer::new($factory)
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1);
        let server = ($configure)(server)
            .bind(("127.0.0.1", $port))
            .expect("bind a port of 127.0.0.1");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        ::actix_web::rt::spawn(server);
        (addr, handle)
    }};
}

/// What `App::new()..` builds, for a test's `fn app() -> App<impl common::AppFactory>`.
pub trait AppFactory:
    actix_web::dev::ServiceFactory<
    actix_web::dev::ServiceRequest,
    Config = (),
    Response = actix_web::dev::ServiceResponse,
    Error = actix_web::Error,
    InitError = (),
>
{
}

impl<T> AppFactory for T where
    T: actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >
{
}

/// A loopback port that is free now: for a child process, nginx, or a server stopped and
/// started again on the same port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Bounded wait: every network step of a test goes through this.
pub async fn within<F: std::future::Future>(secs: u64, what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s: {what}"))
}

/// One parsed event, as the independent parser reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub event: String,
    pub data: String,
    pub id: String,
}

/// GETs `url` with awc and returns the status, the headers and the events, parsed by
/// `eventsource-stream`.
pub async fn events(
    url: &str,
    headers: &[(&str, &[u8])],
) -> (
    awc::http::StatusCode,
    awc::http::header::HeaderMap,
    impl Stream<Item = Parsed> + Unpin,
) {
    use eventsource_stream::Eventsource;
    let mut req = awc::Client::new().get(url);
    for (name, value) in headers {
        req = req.append_header((
            *name,
            awc::http::header::HeaderValue::from_bytes(value).unwrap(),
        ));
    }
    let mut resp = within(5, "response head", req.send())
        .await
        .expect("request");
    let body = resp.take_payload();
    let parsed = body.eventsource().map(|ev| {
        let ev = ev.expect("a well-formed event stream");
        Parsed {
            event: ev.event,
            data: ev.data,
            id: ev.id,
        }
    });
    (resp.status(), resp.headers().clone(), Box::pin(parsed))
}

/// A raw HTTP/1.1 request on a new connection (`extra`: more header lines, each ending in
/// CRLF); returns the connection, the response head and the body bytes read with it.
pub async fn raw_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> (tokio::net::TcpStream, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = within(5, "connect", tokio::net::TcpStream::connect(addr))
        .await
        .unwrap();
    let length = if body.is_empty() && method == "GET" {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n{length}{extra}\r\n{body}");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = within(5, "response head", stream.read(&mut chunk))
            .await
            .unwrap();
        assert!(n > 0, "connection closed before the head");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    (stream, head, buf[end..].to_vec())
}

/// Reads the rest of a chunked body until its final chunk (`true`) or until the server
/// closes the connection without one (`false`).
pub async fn read_chunked_to_end(
    stream: &mut tokio::net::TcpStream,
    mut body: Vec<u8>,
    secs: u64,
) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    loop {
        if body.ends_with(b"0\r\n\r\n") {
            return (body, true);
        }
        let n = within(secs, "end of body", stream.read(&mut buf))
            .await
            .unwrap_or(0);
        if n == 0 {
            return (body, false);
        }
        body.extend_from_slice(&buf[..n]);
    }
}
