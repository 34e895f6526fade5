//! HTTP/2 (h2c): a client that resets its stream, or closes the connection, while its
//! stream is silent (`heartbeat = "off"`) has its handler dropped within a second. The
//! client is the `h2` crate (not ours); the connection close is also tried with curl.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering::SeqCst},
        Arc,
    },
    time::{Duration, Instant},
};

use actix_sse::prelude::*;
use actix_web::{web, App, HttpServer};
use common::within;

/// Counts the handlers alive.
#[derive(Clone, Default)]
struct Alive(Arc<AtomicUsize>);

struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

impl Alive {
    fn enter(&self) -> Guard {
        self.0.fetch_add(1, SeqCst);
        Guard(self.0.clone())
    }

    fn get(&self) -> usize {
        self.0.load(SeqCst)
    }

    /// Waits (bounded) until `n` handlers are alive; returns how long it took.
    async fn until(&self, n: usize, what: &str) -> Duration {
        let start = Instant::now();
        while self.get() != n {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{what}: {} handlers alive, expected {n}",
                self.get()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        start.elapsed()
    }
}

/// Says hello, then stays silent for ever.
#[sse("/quiet", heartbeat = "off")]
async fn quiet(alive: web::Data<Alive>) {
    let _guard = alive.enter();
    send!("hello");
    std::future::pending::<()>().await;
}

/// The same, path-less, with the probe taken by hand.
#[sse(heartbeat = "off")]
async fn quiet_route(alive: web::Data<Alive>, _probe: actix_sse::PeerProbe) {
    let _guard = alive.enter();
    send!("hello");
    std::future::pending::<()>().await;
}

fn server(alive: &Alive) -> std::net::SocketAddr {
    let data = web::Data::new(alive.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .service(quiet)
            .route("/quiet-route", web::get().to(quiet_route))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .sse_defaults()
    .bind_auto_h2c(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    addr
}

/// Opens `n` streams on one h2c connection and reads each one's first event.
async fn open(
    addr: std::net::SocketAddr,
    path: &str,
    n: usize,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    Vec<h2::RecvStream>,
    tokio::task::JoinHandle<()>,
) {
    let tcp = within(5, "connect", tokio::net::TcpStream::connect(addr))
        .await
        .unwrap();
    let (client, connection) = within(5, "h2 handshake", h2::client::handshake(tcp))
        .await
        .unwrap();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = within(5, "ready", client.ready()).await.unwrap();
    let mut bodies = Vec::new();
    for _ in 0..n {
        let req = http02::Request::get(format!("http://{addr}{path}"))
            .body(())
            .unwrap();
        let (resp, _) = client.send_request(req, true).unwrap();
        let resp = within(5, "response head", resp).await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let first = within(5, "first event", body.data())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&first[..], b"data: hello\n\n");
        bodies.push(body);
        client = within(5, "ready", client.ready()).await.unwrap();
    }
    (client, bodies, driver)
}

#[actix_web::test]
async fn curl_and_h2_a_reset_stream_and_a_closed_connection_drop_their_handlers_within_a_second() {
    let alive = Alive::default();
    let addr = server(&alive);
    for path in ["/quiet", "/quiet-route"] {
        let (client, mut bodies, driver) = open(addr, path, 20).await;
        alive.until(20, "all open").await;

        // Half the streams are reset (dropping a stream's handles sends RST_STREAM
        // CANCEL); the connection stays, and so do the other handlers.
        bodies.truncate(10);
        let took = alive.until(10, "after 10 resets").await;
        assert!(
            took < Duration::from_secs(1),
            "{path}: resets noticed after {took:?}"
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(alive.get(), 10, "{path}: the other streams stay");

        // The whole connection goes.
        drop((client, bodies));
        driver.abort();
        let took = alive.until(0, "after the connection closed").await;
        assert!(
            took < Duration::from_secs(1),
            "{path}: close noticed after {took:?}"
        );
    }

    // The same with curl, killed while it waits.
    common::require("curl_", common::program("curl", "apt-get install -y curl"));
    let mut curl = std::process::Command::new("curl")
        .args(["--http2-prior-knowledge", "-sS", "-N", "--max-time", "20"])
        .arg(format!("http://{addr}/quiet"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    alive.until(1, "curl's stream").await;
    curl.kill().unwrap();
    let _ = curl.wait();
    let took = alive.until(0, "after curl was killed").await;
    assert!(
        took < Duration::from_secs(1),
        "curl: noticed after {took:?}"
    );
}
