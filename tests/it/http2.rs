//! HTTP/2 (h2c with prior knowledge) with a real, independent client: curl (nghttp2).
//! The stream is delivered event by event, with the same headers and bytes as on HTTP/1.1.
//!
//! Needs `curl` (`.ci/run` installs it). Skipped locally without it; fails under CI.

use crate::common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use actix_sse::Sse;
use actix_web::{web, App, HttpServer, Responder};
use tokio::sync::Notify;

async fn gated(gate: web::Data<Notify>) -> impl Responder {
    Sse::from_fn(move |tx| async move {
        tx.send("first").await?;
        gate.notified().await;
        tx.send("second\nline").await
    })
}

#[actix_web::test]
async fn curl_events_arrive_one_by_one_over_h2c() {
    common::require("curl_", common::program("curl", "apt-get install -y curl"));
    let gate = web::Data::new(Notify::new());
    let g = gate.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(g.clone())
            .route("/", web::get().to(gated))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind_auto_h2c(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let _handle = server.handle();
    actix_web::rt::spawn(server);

    let mut curl = Command::new("curl")
        .args([
            "--http2-prior-knowledge",
            "-sS",
            "-N",
            "--max-time",
            "20",
            "-D",
            "-",
        ])
        .arg(format!("http://{addr}/"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start curl");
    let stdout = curl.stdout.take().unwrap();
    // curl's output, line by line, from a reader thread (never block the test's runtime:
    // the server's own tasks run on it).
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    macro_rules! next_line {
        ($what:expr) => {
            common::within(10, $what, lines.recv())
                .await
                .expect("curl's output ended")
        };
    }

    let mut head = Vec::new();
    loop {
        let line = next_line!("response head");
        if line.trim().is_empty() {
            break;
        }
        head.push(line.trim().to_ascii_lowercase());
    }
    assert_eq!(head[0], "http/2 200", "{head:?}");
    assert!(
        head.contains(&"content-type: text/event-stream".to_owned()),
        "{head:?}"
    );
    assert!(
        head.contains(&"cache-control: no-cache".to_owned()),
        "{head:?}"
    );
    assert!(
        !head.iter().any(|h| h.starts_with("content-length")),
        "{head:?}"
    );

    // The handler is parked on the gate: the first event must already be here.
    assert_eq!(next_line!("first event"), "data: first");
    assert_eq!(next_line!("first event's end"), "");
    gate.notify_one();
    let mut rest = Vec::new();
    for _ in 0..3 {
        rest.push(next_line!("second event"));
    }
    assert_eq!(rest, ["data: second", "data: line", ""]);
    let status = actix_web::rt::task::spawn_blocking(move || curl.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "curl: {status} (a clean end of the h2 stream)"
    );
}
