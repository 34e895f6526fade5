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
use actix_web::{App, HttpResponse};
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
    serve!(port port, || App::new().service(ten)).1
}

#[actix_web::test]
async fn follow_prints_every_event_once_across_a_restart_and_exits_0_on_204() {
    let port = common::free_port();
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

/// `target/<profile>/examples/<name>`.
fn example(name: &str) -> PathBuf {
    follow_binary().with_file_name(name)
}

/// Starts the chat example on Redis on `port`; returns once it printed its URL.
async fn start_chat(port: u16, redis: &str) -> std::process::Child {
    let mut child = Command::new(example("chat"))
        .env("PORT", port.to_string())
        .env("REDIS_URL", redis)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the chat example");
    // Its stdout is read to the end (it prints more than one line; a closed pipe would
    // make it panic), the first line handed over.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        lines.for_each(drop);
    });
    let line = within(20, "the chat's first line", rx)
        .await
        .unwrap()
        .expect("a line")
        .unwrap();
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    child
}

async fn say(port: u16, text: &'static str) {
    let res = within(
        5,
        "POST /say",
        awc::Client::new()
            .post(format!("http://127.0.0.1:{port}/say"))
            .send_body(text),
    )
    .await
    .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
}

/// Waits (bounded) for follow's next stdout line that `done` accepts; returns every line
/// read meanwhile.
async fn until(
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let mut seen = Vec::new();
    loop {
        let line = within(15, "a line of follow", lines.recv())
            .await
            .expect("follow is running");
        let value: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let stop = done(&value);
        seen.push(value);
        if stop {
            return seen;
        }
    }
}

/// A child process killed when the test ends, also when it fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// Against the chat example on Redis: follow reads instance A; A is killed (kill -9) while
// messages are said through instance B, then started again; follow resumes on A with its
// Last-Event-ID, and every message said is printed once, in order, without a `reset`.
#[actix_web::test]
async fn redis_follow_loses_nothing_when_the_chat_process_restarts() {
    common::redis::require();
    let redis = common::redis::RedisServer::start();
    let (port_a, port_b) = (common::free_port(), common::free_port());
    let mut a = Killed(start_chat(port_a, &redis.url()).await);
    let _b = Killed(start_chat(port_b, &redis.url()).await);
    let mut follow = Command::new(follow_binary())
        .arg(format!("http://127.0.0.1:{port_a}/chat"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start follow");
    let stdout = follow.stdout.take().unwrap();
    let _follow = Killed(follow);
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = until(&mut lines, |v| v["event"] == "system").await; // subscribed
    say(port_b, "m1").await;
    say(port_b, "m2").await;
    seen.extend(until(&mut lines, |v| v["data"] == "m2").await);

    a.0.kill().unwrap();
    a.0.wait().unwrap();
    say(port_b, "m3").await;
    say(port_b, "m4").await;
    let _a = Killed(start_chat(port_a, &redis.url()).await);
    seen.extend(until(&mut lines, |v| v["data"] == "m4").await);
    say(port_b, "m5").await;
    seen.extend(until(&mut lines, |v| v["data"] == "m5").await);

    let messages: Vec<&str> = seen
        .iter()
        .filter(|v| v["event"] == "message")
        .map(|v| v["data"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["m1", "m2", "m3", "m4", "m5"], "{seen:?}");
    assert!(seen.iter().all(|v| v["event"] != "reset"), "{seen:?}");
}
