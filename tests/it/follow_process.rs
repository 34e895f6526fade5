//! The `follow` example as a user runs it (the binary `cargo test` builds), against a real
//! server that is stopped and started again on the same port: every event printed once, in
//! order, as a JSON line; the reconnections on stderr; exit 0 on `204`, and 1 with the
//! status on stderr on a `404`.

use crate::common;

use std::{
    io::{BufRead, BufReader, Read},
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use actix_sse::prelude::*;
use actix_web::{App, HttpResponse, HttpServer};
use common::within;

/// `target/<profile>/examples/follow`, next to this test's own `deps/` directory.
fn follow_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile_dir.join("examples").join("follow");
    assert!(
        binary.exists(),
        "{} not built (cargo test builds examples)",
        binary.display()
    );
    binary
}

/// Ids 0 to 9 from after `Last-Event-ID`, one every 20 ms; then `204`.
#[sse("/ten", retry = "50ms")]
async fn ten(last: LastEventId<u64>) {
    let start = last.map_or(0, |n| n + 1);
    if start >= 10 {
        reject!(HttpResponse::NoContent());
    }
    for n in start..10 {
        send!(format!("n{n}"), id = n);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn start_ten(port: u16) -> actix_web::dev::ServerHandle {
    let server = HttpServer::new(|| App::new().service(ten))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .bind(("127.0.0.1", port))
        .expect("bind the port again");
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    handle
}

#[actix_web::test]
async fn follow_prints_every_event_once_across_a_restart_and_exits_0_on_204() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let first = start_ten(port);
    let mut child = Command::new(follow_binary())
        .arg(format!("http://127.0.0.1:{port}/ten"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start follow");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..3 {
        let (line, back) = within(
            10,
            "a line of follow",
            actix_web::rt::task::spawn_blocking(move || {
                let mut line = String::new();
                stdout.read_line(&mut line).unwrap();
                (line, stdout)
            }),
        )
        .await
        .unwrap();
        stdout = back;
        lines.push(line);
    }
    // Killed mid-stream, away for 300 ms, back on the same port.
    within(5, "stop", first.stop(false)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = start_ten(port);
    let (rest, status, stderr) = within(
        20,
        "follow to exit",
        actix_web::rt::task::spawn_blocking(move || {
            let mut rest = String::new();
            stdout.read_to_string(&mut rest).unwrap();
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            (rest, child.wait().unwrap(), stderr)
        }),
    )
    .await
    .unwrap();
    lines.extend(rest.lines().map(|l| format!("{l}\n")));
    let expected: Vec<String> = (0..10)
        .map(|n| format!("{{\"id\":\"{n}\",\"event\":\"message\",\"data\":\"n{n}\"}}\n"))
        .collect();
    assert_eq!(lines, expected, "stderr: {stderr}");
    assert!(status.success(), "{status}; stderr: {stderr}");
    let reconnects = stderr
        .lines()
        .filter(|l| l.contains("reconnecting"))
        .count();
    assert!(reconnects >= 2, "one line per reconnection: {stderr}");
    assert!(stderr.contains("Last-Event-ID: "), "{stderr}");
    assert!(stderr.contains("204"), "{stderr}");
    second.stop(false).await;
}

#[actix_web::test]
async fn follow_exits_1_with_the_status_on_a_404() {
    let (addr, _srv) = serve!(|| App::new().service(ten));
    let url = format!("http://{addr}/missing");
    let out = within(
        10,
        "follow to exit",
        actix_web::rt::task::spawn_blocking(move || {
            Command::new(follow_binary()).arg(url).output().unwrap()
        }),
    )
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("404 Not Found"), "{stderr}");
    assert!(out.stdout.is_empty());
}
