//! The demo as a user runs it: the `demo` example binary (built by `cargo test`), started
//! with `PORT`, prints its URL, serves, and on Ctrl-C (SIGINT) or SIGTERM ends every open
//! stream cleanly (final chunk) and exits within 2 s.

use crate::common;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{events, raw_request, read_chunked_to_end, within};
use futures_util::StreamExt;

/// `target/<profile>/examples/demo`, next to this test's own `deps/` directory.
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join("examples").join("demo")
}

/// Starts the demo on a free port; returns it, its port, once it printed its URL.
async fn start_demo() -> (std::process::Child, u16) {
    let binary = demo_binary();
    assert!(
        binary.exists(),
        "{} not built (cargo test builds examples)",
        binary.display()
    );
    let port = common::free_port();
    let mut child = Command::new(&binary)
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().unwrap();
    let line = within(
        30,
        "the demo's first line",
        actix_web::rt::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        line.trim(),
        format!("actix-sse demo: open http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    );
    (child, port)
}

/// Sends `signal` with `streams` endless streams open (half `/clock`, half `/heartbeat`, each
/// past its first event): every client sees a clean end, the demo exits within 2 s.
async fn stops_cleanly_on(signal: &str, streams: usize) {
    let (mut child, port) = start_demo().await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut open = Vec::new();
    for i in 0..streams {
        let path = if i % 2 == 0 { "/clock" } else { "/heartbeat" };
        let (conn, head, body) = raw_request(addr, "GET", path, "", "").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        open.push((path, conn, body));
    }
    // An independent parser sees the streams at work.
    let (_, _, mut clock) = events(&format!("http://{addr}/clock"), &[]).await;
    assert!(within(5, "a clock tick", clock.next()).await.is_some());

    let pressed = Instant::now();
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    for (path, mut conn, body) in open {
        let (body, clean) = read_chunked_to_end(&mut conn, body, 2).await;
        assert!(
            clean,
            "{path}: no final chunk after {signal}: {:?}",
            String::from_utf8_lossy(&body)
        );
    }
    let ended = pressed.elapsed();
    // The parser's stream ends too, cleanly (`None`, not an error).
    assert!(within(2, "the clock's end", clock.next()).await.is_none());
    let status = within(
        10,
        "the demo to exit",
        actix_web::rt::task::spawn_blocking(move || child.wait()),
    )
    .await
    .unwrap()
    .unwrap();
    let took = pressed.elapsed();
    eprintln!("{signal}: {streams} streams ended within {ended:?}, the demo exited after {took:?} with {status}");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[actix_web::test]
async fn the_demo_ends_100_streams_cleanly_and_exits_on_sigterm() {
    stops_cleanly_on("-TERM", 100).await;
}

#[actix_web::test]
async fn the_demo_prints_its_url_serves_and_stops_on_ctrl_c() {
    stops_cleanly_on("-INT", 10).await;
}
