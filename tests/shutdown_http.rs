//! Graceful shutdown on a real server: `Shutdown::stop` (what `SIGINT`/`SIGTERM` trigger
//! on a server set up with `sse_defaults`) ends every open stream cleanly (the last event,
//! then the final chunk) at once, drops the handlers, and the server's future resolves
//! promptly. Raw HTTP/1.1 clients on 127.0.0.1, bounded waits.

mod common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use actix_sse::{prelude::*, ServerSetup, Shutdown, Stream};
use actix_web::{web, App, HttpServer};
use common::{raw_request, read_chunked_to_end, within};

struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Endless, silent after its first event.
#[sse("/push")]
async fn push(live: web::Data<Arc<AtomicUsize>>) {
    live.fetch_add(1, Ordering::SeqCst);
    let _live = Live(live.get_ref().clone());
    send!("hello", id = 1);
    std::future::pending::<()>().await;
}

/// Has sent nothing yet (its head waits for the heartbeat, an hour away).
#[sse("/quiet", heartbeat = "1h")]
async fn quiet(live: web::Data<Arc<AtomicUsize>>) {
    live.fetch_add(1, Ordering::SeqCst);
    let _live = Live(live.get_ref().clone());
    std::future::pending::<()>().await;
}

/// Awaits the shutdown itself, to say goodbye in its own words — too late: nothing is sent
/// after the stop, the stream's last event is the server's.
#[sse("/aware")]
async fn aware(shutdown: Shutdown) {
    send!("waiting");
    shutdown.notified().await;
    send!("never sent");
}

/// Stream style: an endless stream.
#[sse("/stream")]
async fn stream() -> impl Stream<Item = Event> {
    async_stream::stream! {
        yield Event::data("first");
        std::future::pending::<()>().await;
    }
}

#[actix_web::test]
async fn stop_ends_every_stream_cleanly_and_promptly() {
    let live = Arc::new(AtomicUsize::new(0));
    let shutdown = Shutdown::new();
    let setup = ServerSetup::new()
        .shutdown(shutdown.clone())
        .stop_signals(false)
        .shutdown_event(&Event::data("restarting").event("shutdown"))
        .unwrap();
    let data = web::Data::new(live.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .service(push)
            .service(quiet)
            .service(aware)
            .service(stream)
    })
    .workers(1)
    .sse_setup(setup)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = actix_web::rt::spawn(server.run());

    // 20 streams of each kind, each with its first event read (the quiet ones: their
    // handler runs).
    let mut open = Vec::new();
    for path in ["/push", "/aware", "/stream"] {
        for _ in 0..20 {
            let (conn, head, mut body) = raw_request(addr, "GET", path, "", "").await;
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            while !body.ends_with(b"\n\n\r\n") {
                let (more, _) = read_some(&conn, body).await;
                body = more;
            }
            open.push((path, conn, body));
        }
    }
    let mut quiet_conns = Vec::new();
    for _ in 0..20 {
        let mut conn = within(5, "connect", tokio::net::TcpStream::connect(addr))
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut conn, b"GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        quiet_conns.push(conn);
    }
    within(5, "every handler to run", async {
        while live.load(Ordering::SeqCst) < 40 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    let stopped = Instant::now();
    shutdown.stop();

    // Every client sees the last event and a clean end, within a second.
    let mut slowest = Duration::ZERO;
    for (path, mut conn, body) in open {
        let (body, clean) = read_chunked_to_end(&mut conn, body, 2).await;
        slowest = slowest.max(stopped.elapsed());
        let text = String::from_utf8_lossy(&body);
        assert!(clean, "{path}: no final chunk: {text:?}");
        assert!(
            text.contains("event: shutdown\ndata: restarting\n\n"),
            "{path}: {text:?}"
        );
        assert!(!text.contains("never sent"), "{path}: {text:?}");
    }
    for mut conn in quiet_conns {
        let (body, clean) = read_chunked_to_end(&mut conn, Vec::new(), 2).await;
        slowest = slowest.max(stopped.elapsed());
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
        assert!(clean, "quiet: no final chunk: {text:?}");
        assert!(
            text.contains("event: shutdown\ndata: restarting\n\n"),
            "{text:?}"
        );
    }
    eprintln!("80 streams ended {slowest:?} after the stop");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    // Their handlers were dropped.
    within(2, "the handlers to be dropped", async {
        while live.load(Ordering::SeqCst) != 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    // The server stops by itself, gracefully: connections closed as their streams ended,
    // and actix-web checks its workers once a second.
    within(3, "the server to stop", server)
        .await
        .unwrap()
        .unwrap();
    let took = stopped.elapsed();
    eprintln!("server future resolved {took:?} after the stop");
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

/// Reads what is there (one read), appended to `body`.
async fn read_some(conn: &tokio::net::TcpStream, mut body: Vec<u8>) -> (Vec<u8>, usize) {
    let mut buf = [0u8; 4096];
    within(5, "readable", conn.readable()).await.unwrap();
    match conn.try_read(&mut buf) {
        Ok(n) => {
            body.extend_from_slice(&buf[..n]);
            (body, n)
        }
        Err(_) => (body, 0),
    }
}

#[actix_web::test]
async fn the_extractor_without_a_setup_never_triggers() {
    #[sse("/plain")]
    async fn plain(shutdown: Shutdown) {
        send!(format!("stopping: {}", shutdown.is_stopping()));
    }
    let (addr, _srv) = serve!(|| App::new().service(plain));
    let (_, _, mut evs) = common::events(&format!("http://{addr}/plain"), &[]).await;
    let ev = within(5, "event", futures_util::StreamExt::next(&mut evs))
        .await
        .unwrap();
    assert_eq!(ev.data, "stopping: false");
}
