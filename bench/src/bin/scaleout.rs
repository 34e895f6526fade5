//! `scaleout`: `Channels` in-process against `Channels` on Redis with two instances, side by
//! side in one run. Prints a Markdown table.
//!
//! ```text
//! cargo run --release -p actix-sse-bench --bin scaleout            # ~20 s
//! cargo run --release -p actix-sse-bench --bin scaleout -- --quick # smoke run
//! ```
//!
//! Starts its own `redis-server` on a free port of 127.0.0.1 (no persistence; the topics'
//! history on, 1,000 events) and stops it by PID. The two instances are two hubs in this
//! process, each with its own Redis connections: one publishes, the other has the
//! subscribers, so every event goes publisher → Redis → Pub/Sub → subscriber.
//!
//! Everything of this process runs on one thread (a current-thread runtime).
//!
//! - **latency**: 100 subscribers; events published at a steady 2,000/s carry their
//!   `CLOCK_MONOTONIC` time; publish-to-receive p50/p99 over every (event, subscriber).
//! - **events/s**: 16 concurrent publishers send as fast as they can to 10 subscribers;
//!   published events/s until every subscriber has every event (each checks it gets all of
//!   them, in order).
//! - **Redis CPU/event**: the redis-server process's CPU time (`/proc/PID/schedstat`) over
//!   the throughput phase divided by the events published.
//! - **the publish script against a bare pair**: the same 16 publishers, once through the
//!   hub (the publish script: next position, append, trim, records, `PUBLISH`) and once as
//!   a bare `XADD` + `PUBLISH` of the same frame, pipelined on one multiplexed connection
//!   as redis-rs does (no subscribers, so only the publish side is measured): events/s and
//!   Redis CPU per event, side by side.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use actix_sse::{Channels, ChannelsBuilder};
use actix_sse_bench::procfs;

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

struct Redis {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("actix-sse-bench-redis-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install -y redis-server)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { child, port, dir }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// How many times Redis ran the publish script (`EVALSHA`) so far.
    async fn script_calls(&self) -> u64 {
        let client = redis::Client::open(self.url()).expect("client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut conn)
            .await
            .expect("INFO");
        stats
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn builder() -> ChannelsBuilder {
    // Queues that hold a whole burst (100,000 events of ~100 B): the subscribers read as
    // fast as they can, and the measure is the delivery, not the lag policy.
    Channels::builder()
        .history_events(1_000)
        .queue(100_000)
        .queue_bytes(32 << 20)
}

/// (publisher, subscribers' hub) for a backend.
async fn hubs(redis: Option<&Redis>, prefix: &str) -> (Channels, Channels) {
    match redis {
        None => {
            let hub = builder().build();
            (hub.clone(), hub)
        }
        Some(redis) => (
            builder()
                .key_prefix(prefix)
                .connect_redis(&redis.url())
                .await
                .expect("connect"),
            builder()
                .key_prefix(prefix)
                .connect_redis(&redis.url())
                .await
                .expect("connect"),
        ),
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1_000.0
}

/// p50 and p99 of publish-to-receive in µs.
async fn latency(redis: Option<&Redis>, events: usize, subscribers: usize) -> (f64, f64) {
    let (publisher, hub) = hubs(redis, "lat").await;
    let mut tasks = Vec::new();
    for _ in 0..subscribers {
        let mut sub = hub.subscribe("t", None).await;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(events);
            while lat.len() < events {
                let ev = tokio::time::timeout(Duration::from_secs(10), sub.next())
                    .await
                    .expect("an event within 10 s")
                    .expect("the subscription goes on");
                let sent: u64 = ev.data().parse().expect("a timestamp");
                lat.push(now_ns().saturating_sub(sent));
            }
            lat
        }));
    }
    let mut tick = tokio::time::interval(Duration::from_micros(500));
    for _ in 0..events {
        tick.tick().await;
        publisher
            .publish("t", now_ns().to_string())
            .await
            .expect("publish");
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    (percentile(&all, 0.5), percentile(&all, 0.99))
}

/// Published events/s until every subscriber has all of them.
async fn throughput(redis: Option<&Redis>, events: usize, subscribers: usize) -> f64 {
    let (publisher, hub) = hubs(redis, "thr").await;
    let mut tasks = Vec::new();
    for _ in 0..subscribers {
        let mut sub = hub.subscribe("t", None).await;
        tasks.push(tokio::spawn(async move {
            let mut last = 0u64;
            for _ in 0..events {
                let ev = tokio::time::timeout(Duration::from_secs(30), sub.next())
                    .await
                    .expect("an event within 30 s")
                    .expect("the subscription goes on");
                let seq = ev.id().sequence();
                assert!(seq > last, "in order");
                last = seq;
            }
        }));
    }
    let started = Instant::now();
    let publishers = publish_16(&publisher, events);
    for t in publishers.into_iter().chain(tasks) {
        t.await.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// 16 tasks publishing 64 B events to topic `t` as fast as they can, `events` in all.
fn publish_16(publisher: &Channels, events: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let next = Arc::new(AtomicU64::new(0));
    (0..16)
        .map(|_| {
            let (publisher, next) = (publisher.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < events as u64 {
                    publisher
                        .publish("t", "x".repeat(64))
                        .await
                        .expect("publish");
                }
            })
        })
        .collect()
}

/// 16 publishers, `events` in all, through the hub (no subscriber): events/s.
async fn publish_script(redis: &Redis, events: usize) -> f64 {
    let (publisher, _) = hubs(Some(redis), "cost").await;
    let started = Instant::now();
    for t in publish_16(&publisher, events) {
        t.await.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// The same with a bare `XADD` + `PUBLISH` per event (a pipeline of two, on one
/// multiplexed connection): events/s.
async fn publish_bare(redis: &Redis, events: usize) -> f64 {
    let client = redis::Client::open(redis.url()).expect("client");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let frame = format!("data: {}\nid: 1234567890-1\n\n", "x".repeat(64));
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut publishers = Vec::new();
    for _ in 0..16 {
        let (mut conn, next, frame) = (conn.clone(), next.clone(), frame.clone());
        publishers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= events as u64 {
                    break;
                }
                // Redis picks the entry id: with ids of our own, two publishers could
                // reach Redis out of order and the later one fail (cheaply).
                let () = redis::pipe()
                    .cmd("XADD")
                    .arg("bare:stream")
                    .arg("*")
                    .arg("f")
                    .arg(&frame)
                    .ignore()
                    .cmd("PUBLISH")
                    .arg("bare:live")
                    .arg(&frame)
                    .ignore()
                    .query_async(&mut conn)
                    .await
                    .expect("XADD + PUBLISH");
            }
        }));
    }
    for t in publishers {
        t.await.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (lat_events, thr_events) = if quick {
        (200, 2_000)
    } else {
        (4_000, 100_000)
    };
    let redis = Redis::start();
    let pid = redis.child.id();

    println!("| measure | in-process | Redis, 2 instances | ratio |");
    println!("|---|---:|---:|---:|");
    let (m50, m99) = latency(None, lat_events, 100).await;
    let (r50, r99) = latency(Some(&redis), lat_events, 100).await;
    println!(
        "| publish→receive p50, 100 subscribers, 2,000 ev/s | {m50:.0} µs | {r50:.0} µs | {:.1}× |",
        r50 / m50
    );
    println!(
        "| publish→receive p99 | {m99:.0} µs | {r99:.0} µs | {:.1}× |",
        r99 / m99
    );
    let m = throughput(None, thr_events, 10).await;
    let cpu_before = procfs::sched_ns(pid).unwrap_or(0);
    let r = throughput(Some(&redis), thr_events, 10).await;
    let cpu = procfs::sched_ns(pid)
        .unwrap_or(0)
        .saturating_sub(cpu_before);
    println!(
        "| events/s, 16 publishers, 10 subscribers, 64 B | {:.0} k | {:.0} k | {:.2}× |",
        m / 1e3,
        r / 1e3,
        r / m
    );
    println!(
        "| Redis CPU per event (history on) | – | {:.1} µs | |",
        cpu as f64 / thr_events as f64 / 1e3
    );

    // The publish script against a bare pipelined XADD + PUBLISH, publishers only.
    // Redis' CPU per event in µs since `before`.
    let per_event = |before: u64| {
        procfs::sched_ns(pid).unwrap_or(0).saturating_sub(before) as f64 / thr_events as f64 / 1e3
    };
    let before = procfs::sched_ns(pid).unwrap_or(0);
    let calls = redis.script_calls().await;
    let script = publish_script(&redis, thr_events).await;
    let script_cpu = per_event(before);
    let calls = redis.script_calls().await - calls;
    let before = procfs::sched_ns(pid).unwrap_or(0);
    let bare = publish_bare(&redis, thr_events).await;
    let bare_cpu = per_event(before);
    println!();
    println!("| publishes, 16 publishers, no subscriber | publish script | bare XADD + PUBLISH | script / bare |");
    println!("|---|---:|---:|---:|");
    println!(
        "| events/s | {:.0} k | {:.0} k | {:.2}× |",
        script / 1e3,
        bare / 1e3,
        script / bare
    );
    println!(
        "| Redis CPU per event | {script_cpu:.1} µs | {bare_cpu:.1} µs | {:.2}× |",
        script_cpu / bare_cpu
    );
    println!(
        "| events per call of the script | {:.1} | – | |",
        thr_events as f64 / calls.max(1) as f64
    );
}
