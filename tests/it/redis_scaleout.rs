//! Two instances of the chat example (the real binary, built by `cargo test`) on one real
//! `redis-server`: subscribers on A, messages said through B; A is killed with `kill -9`;
//! the subscribers reconnect to B with their `Last-Event-ID` and get exactly what they
//! missed, in order, without duplicates.

use crate::common;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use common::{events, redis::RedisServer, within, Parsed};
use futures_util::{Stream, StreamExt};

/// `target/<profile>/examples/chat`, next to this test's own `deps/` directory.
fn chat_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join("examples").join("chat")
}

/// One instance; killed when dropped.
struct Instance {
    port: u16,
    child: Child,
}

impl Instance {
    async fn start(redis_url: &str) -> Self {
        let port = common::free_port();
        let mut child = Command::new(chat_binary())
            .env("PORT", port.to_string())
            .env("REDIS_URL", redis_url)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the chat example");
        let stdout = child.stdout.take().unwrap();
        let line = within(
            30,
            "the chat's first line",
            actix_web::rt::task::spawn_blocking(move || {
                let mut reader = BufReader::new(stdout);
                let mut line = String::new();
                reader.read_line(&mut line)?;
                // Keep reading what it prints, so its stdout never breaks.
                std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
                Ok::<_, std::io::Error>(line)
            }),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
        Self { port, child }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn say(&self, text: &str) -> String {
        let mut resp = within(
            10,
            "POST /say",
            awc::Client::new()
                .post(self.url("/say"))
                .send_body(text.to_owned()),
        )
        .await
        .expect("POST /say");
        assert_eq!(resp.status(), 200);
        String::from_utf8(within(5, "id", resp.body()).await.unwrap().to_vec()).unwrap()
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill9();
    }
}

async fn message(evs: &mut (impl Stream<Item = Parsed> + Unpin)) -> Option<Parsed> {
    loop {
        let ev = within(10, "a message", evs.next()).await?;
        if ev.event == "message" {
            return Some(ev);
        }
    }
}

#[actix_web::test]
async fn redis_subscribers_of_a_killed_instance_resume_exactly_on_the_other() {
    common::redis::require();
    assert!(chat_binary().exists(), "the chat example is not built");
    let mut redis = RedisServer::start();
    let mut a = Instance::start(&redis.url()).await;
    let b = Instance::start(&redis.url()).await;

    let mut subs = Vec::new();
    for _ in 0..5 {
        let (status, _, mut evs) = events(&a.url("/chat"), &[]).await;
        assert_eq!(status, 200);
        // The greeting comes once the subscription is in place.
        let hello = within(10, "greeting", evs.next()).await.unwrap();
        assert_eq!(hello.event, "system");
        subs.push(evs);
    }
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(b.say(&format!("m{i}")).await);
    }
    let mut last = Vec::new();
    for (n, evs) in subs.iter_mut().enumerate() {
        // Each subscriber stops reading at a different message.
        let upto = 5 + n;
        for (i, id) in ids.iter().enumerate().take(upto) {
            let ev = message(evs).await.unwrap();
            assert_eq!((ev.data.as_str(), &ev.id), (format!("m{i}").as_str(), id));
        }
        last.push(upto - 1);
    }

    a.kill9();
    for evs in &mut subs {
        // The stream of a killed instance ends (the parser sees the connection close).
        while within(10, "the end of A's stream", evs.next())
            .await
            .is_some()
        {}
    }
    drop(subs);
    for i in 10..15 {
        ids.push(b.say(&format!("m{i}")).await);
    }

    // Everything said so far, in order: what a resume must replay.
    let mut said: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("m{i}"), id.clone()))
        .collect();
    for seen in last {
        let (_, _, mut evs) = events(
            &b.url("/chat"),
            &[("last-event-id", said[seen].1.as_bytes())],
        )
        .await;
        for (text, id) in &said[seen + 1..] {
            let ev = message(&mut evs).await.unwrap();
            assert_eq!((&ev.data, &ev.id), (text, id), "resumed after m{seen}");
        }
        let live = b.say("live").await;
        let ev = message(&mut evs).await.unwrap();
        assert_eq!(
            (ev.data.as_str(), &ev.id),
            ("live", &live),
            "nothing duplicated"
        );
        said.push(("live".into(), live));
    }

    // Redis away: a message is refused with 503 (not taken, not silently dropped).
    redis.kill();
    let resp = within(
        10,
        "POST /say without Redis",
        awc::Client::new().post(b.url("/say")).send_body("lost?"),
    )
    .await
    .expect("POST /say");
    assert_eq!(resp.status(), 503);
}
