//! The demo as a user runs it: the `demo` example binary (built by `cargo test`), started
//! with `PORT`, prints its URL, serves, and stops promptly on Ctrl-C (SIGINT) even with
//! endless streams open.

mod common;

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{events, within};
use futures_util::StreamExt;

/// `target/<profile>/examples/demo`, next to this test's own `deps/` directory.
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join("examples").join("demo")
}

#[actix_web::test]
async fn the_demo_prints_its_url_serves_and_stops_on_ctrl_c() {
    let binary = demo_binary();
    assert!(
        binary.exists(),
        "{} not built (cargo test builds examples)",
        binary.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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

    // Two endless streams open while we press Ctrl-C.
    let (_, _, mut clock) = events(&format!("http://127.0.0.1:{port}/clock"), &[]).await;
    assert!(within(5, "a clock tick", clock.next()).await.is_some());
    let (_, _, mut beats) = events(&format!("http://127.0.0.1:{port}/heartbeat"), &[]).await;
    assert!(within(5, "a heartbeat", beats.next()).await.is_some());

    let pressed = Instant::now();
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = within(
        10,
        "the demo to exit",
        actix_web::rt::task::spawn_blocking(move || child.wait()),
    )
    .await
    .unwrap()
    .unwrap();
    let took = pressed.elapsed();
    eprintln!("demo exited {took:?} after SIGINT with {status}");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}
