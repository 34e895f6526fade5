//! `SseServerExt::sse_defaults()`, the one line of server setup the README shows: clients
//! that vanish or stop reading are let go promptly. Real server, real sockets, bounded waits.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use actix_sse::{ServerSetup, Sse, SseServerExt as _};
use actix_web::{web, App, Responder};
use common::within;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

struct Live(Arc<AtomicUsize>);
impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A silent stream: one event, then nothing (the heartbeat is the default 15 s).
async fn silent(live: web::Data<AtomicUsize>) -> impl Responder {
    live.fetch_add(1, Ordering::SeqCst);
    let guard = Live(live.into_inner());
    Sse::from_fn(move |tx| async move {
        let _guard = guard;
        tx.send("hi").await?;
        std::future::pending::<Result<(), actix_sse::SendError>>().await
    })
}

/// A raw `GET /` on a new connection.
async fn get(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = within(5, "connect", TcpStream::connect(addr))
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    stream
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Connect/disconnect churn: 2,000 clients each read the first event and go away. With the
/// README's server setup, every handler is dropped and every socket closed within a
/// second of the last disconnect (with actix-web's default half-close, each silent
/// handler and its socket would stay until its second heartbeat, 30 s later).
#[actix_web::test]
async fn churn_leaves_no_handler_and_no_socket_behind() {
    let live = web::Data::new(AtomicUsize::new(0));
    let l = live.clone();
    let (addr, _srv) = serve!(
        move || App::new()
            .app_data(l.clone())
            .route("/", web::get().to(silent)),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    let fds_before = open_fds();
    let start = Instant::now();
    for _ in 0..2_000 {
        let mut stream = get(addr).await;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(8).any(|w| w == b"data: hi") {
            let n = within(5, "first event", stream.read(&mut chunk))
                .await
                .unwrap();
            assert!(n > 0, "closed before the first event");
            buf.extend_from_slice(&chunk[..n]);
        }
    }
    let churned = start.elapsed();
    let gone = Instant::now();
    // Other tests in this binary open sockets of their own meanwhile: allow a margin far
    // below the 2,000 a leak leaves.
    while live.load(Ordering::SeqCst) > 0 || open_fds() > fds_before + 64 {
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "after {churned:?} of churn, {} handlers and {} sockets (over {fds_before}) are still open",
            live.load(Ordering::SeqCst),
            open_fds().saturating_sub(fds_before),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct Flag(Arc<AtomicBool>);
impl Drop for Flag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Sends 4 KiB events as fast as the client takes them.
async fn firehose(dropped: web::Data<AtomicBool>) -> impl Responder {
    let flag = Flag(dropped.into_inner());
    let event = "x".repeat(4090);
    Sse::from_fn(move |tx| async move {
        let _flag = flag;
        loop {
            tx.send(event.as_str()).await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), actix_sse::SendError>(())
    })
}

/// Serves `firehose` with `send_timeout`; a client reads the head and then nothing while
/// keeping its connection open. Returns how long until the handler was dropped, if it was
/// within `wait`.
async fn stuck_reader(send_timeout: Option<Duration>, wait: Duration) -> Option<Duration> {
    let dropped = web::Data::new(AtomicBool::new(false));
    let d = dropped.clone();
    let (addr, _srv) = serve!(
        move || App::new()
            .app_data(d.clone())
            .route("/", web::get().to(firehose)),
        move |s: actix_web::HttpServer<_, _, _, _>| s
            .sse_setup(ServerSetup::new().send_timeout(send_timeout))
    );
    let mut stream = get(addr).await;
    let mut head = [0u8; 64];
    within(5, "head", stream.read(&mut head)).await.unwrap();
    // From here on the client reads nothing, and keeps the connection open.
    let start = Instant::now();
    while start.elapsed() < wait {
        if dropped.load(Ordering::SeqCst) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stream);
    None
}

/// A client that stops reading is dropped once the server's bytes have waited the send
/// timeout; without one it is held (bounded memory, but a connection and a handler).
#[actix_web::test]
async fn a_client_that_stops_reading_is_dropped_after_the_send_timeout() {
    let after = stuck_reader(Some(Duration::from_millis(300)), Duration::from_secs(10))
        .await
        .expect("the stuck client was dropped");
    assert!(after < Duration::from_secs(5), "dropped after {after:?}");

    assert_eq!(
        stuck_reader(None, Duration::from_secs(2)).await,
        None,
        "control: without a send timeout the stuck client is held"
    );
}
