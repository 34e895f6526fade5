//! Hostile load on the in-process hub with its default settings (issue 19), each case in a
//! fresh process so that RSS is its own: subscribers that never read, a flood of distinct
//! topics, and one subscription to a great many topics.
//!
//! `channels hostile` runs every case and prints one line each with its target;
//! `channels hostile-child <case>` runs one and prints its figures.

use std::{
    process::{Command, Stdio},
    time::Instant,
};

use actix_sse::Channels;

use crate::client::Error;
use crate::procfs;

/// The cases, in the order `channels hostile` runs them.
pub const CASES: [&str; 3] = ["stalled", "topics", "many"];

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())
}

fn rss_mib() -> Result<f64, Error> {
    Ok(procfs::rss_kib(std::process::id())? as f64 / 1024.0)
}

/// 10 subscribers, each on its own topic, never read; 1,000 events of 64 KiB published to
/// each topic. Prints the RSS growth in MiB and how many subscribers are left.
fn stalled() -> Result<String, Error> {
    let rt = runtime()?;
    let hub = Channels::new();
    let data = "x".repeat(64 * 1024);
    let before = rss_mib()?;
    let (subs, left) = rt.block_on(async {
        let mut subs = Vec::new();
        for t in 0..10 {
            subs.push(hub.subscribe(&format!("t{t}"), None).await);
        }
        for _ in 0..1_000 {
            for t in 0..10 {
                hub.publish(&format!("t{t}"), data.as_str())
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        let left: usize = (0..10)
            .map(|t| hub.subscriber_count(&format!("t{t}")))
            .sum();
        Ok::<_, Error>((subs, left))
    })?;
    let grown = rss_mib()? - before;
    let lagged = subs.iter().filter(|s| s.lagged()).count();
    Ok(format!(
        "RSS +{grown:.1} MiB (target ≤ 64); {lagged} of 10 subscribers lagged, {left} left"
    ))
}

/// `n` (1,000,000) distinct topics, one 16-byte publish each; then a publish and a resume on a
/// fresh topic still work. Prints RSS growth, the budget's figure and the topics left.
fn topics(n: u32) -> Result<String, Error> {
    let rt = runtime()?;
    let hub = Channels::new();
    let before = rss_mib()?;
    let t0 = Instant::now();
    let (first, slowest) = rt.block_on(async {
        let mut first = None;
        let mut slowest = std::time::Duration::ZERO;
        for i in 0..n {
            let room = format!("room/{i}");
            let t = Instant::now();
            let id = hub
                .publish(&room, "0123456789abcdef")
                .await
                .map_err(|e| e.to_string())?;
            slowest = slowest.max(t.elapsed());
            first.get_or_insert(id);
        }
        Ok::<_, Error>((first.ok_or("nothing published")?, slowest))
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let grown = rss_mib()? - before;
    // When the oldest room's history was evicted, a resume into it is told so.
    let evicted = hub.topic_count() < n as usize;
    let reset = !evicted
        || rt.block_on(async {
            let mut sub = hub.subscribe("room/0", &first.to_string()).await;
            sub.next().await.is_some_and(|ev| ev.is_reset())
        });
    let works = rt.block_on(async {
        let mut sub = hub.subscribe("fresh", None).await;
        let id = hub.publish("fresh", "still works").await.ok()?;
        let ev = sub.next().await?;
        Some(ev.id() == &id)
    });
    if !reset || works != Some(true) {
        return Err(format!(
            "after the flood: resume reset {reset}, publish works {works:?}"
        ));
    }
    Ok(format!(
        "RSS +{grown:.1} MiB (target ≤ 64); budget counts {:.1} MiB; {} topics left; \
         {:.2} µs per publish, the slowest {:.1} ms (an eviction pass); an evicted room \
         resumes with a reset; publishing works",
        hub.memory_used() as f64 / 1048576.0,
        hub.topic_count(),
        secs * 1e6 / f64::from(n),
        slowest.as_secs_f64() * 1e3
    ))
}

/// One subscription to 50,000 topics: how long setting it up holds the thread (another
/// request on the same worker waits that long), then the cost of each event received.
fn many() -> Result<String, Error> {
    const N: usize = 50_000;
    const EVENTS: usize = 20_000;
    let rt = runtime()?;
    let hub = Channels::new();
    let names: Vec<String> = (0..N).map(|i| format!("user/{i}")).collect();
    let t0 = Instant::now();
    let mut sub = rt.block_on(hub.subscribe_many(&names, None));
    let setup = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let got = rt.block_on(async {
        let mut got = 0;
        for i in 0..EVENTS {
            hub.publish(&names[(i * 7919) % N], "x")
                .await
                .map_err(|e| e.to_string())?;
            if sub.next().await.is_some() {
                got += 1;
            }
        }
        Ok::<_, Error>(got)
    })?;
    let per_event = t1.elapsed().as_secs_f64() / EVENTS as f64;
    if got != EVENTS {
        return Err(format!("{got} of {EVENTS} events received"));
    }
    Ok(format!(
        "set-up {:.0} ms (target: another request answers within 250 ms); \
         publish + receive {:.2} µs per event",
        setup * 1e3,
        per_event * 1e6
    ))
}

/// Runs one case in this process and prints its line.
pub fn child(case: &str, n: Option<u32>) -> Result<(), Error> {
    let line = match case {
        "stalled" => stalled()?,
        "topics" => topics(1_000_000)?,
        "topics-n" => topics(n.unwrap_or(1_000_000))?,
        "many" => many()?,
        _ => return Err(format!("unknown case {case:?}")),
    };
    println!("{line}");
    Ok(())
}

/// Runs every case, each in a fresh process. Returns false if one failed.
pub fn run(exe: &std::path::Path) -> bool {
    let mut ok = true;
    for case in CASES {
        let out = Command::new(exe)
            .args(["hostile-child", case])
            .stderr(Stdio::inherit())
            .output();
        match out {
            Ok(out) if out.status.success() => {
                println!("- {case}: {}", String::from_utf8_lossy(&out.stdout).trim());
            }
            Ok(out) => {
                ok = false;
                println!("- {case}: FAILED ({})", out.status);
            }
            Err(e) => {
                ok = false;
                println!("- {case}: FAILED ({e})");
            }
        }
    }
    ok
}

/// How the hub server's memory moves over rounds of `n` idle subscribers that come and go.
pub struct Round {
    /// RSS with every stream open, MiB.
    pub open_mib: f64,
    /// RSS once they all closed, MiB.
    pub closed_mib: f64,
    /// The process's data segment then (`VmData`: the heap as allocated, touched or not),
    /// MiB.
    pub data_mib: f64,
}

/// Opens `n` idle subscriptions (`/sub` of the hub server), from source address
/// `127.0.0.<source>` so that a round's closed ports in TIME_WAIT never run out the next's.
async fn open_round(
    addr: std::net::SocketAddr,
    n: usize,
    source: u8,
    path: &'static str,
) -> Result<Vec<tokio::net::TcpStream>, Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sem = std::rc::Rc::new(tokio::sync::Semaphore::new(128));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let sem = sem.clone();
        set.spawn_local(async move {
            let _permit = sem.acquire().await;
            let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
            socket
                .bind((std::net::Ipv4Addr::new(127, 0, 0, source), 0).into())
                .map_err(|e| format!("bind 127.0.0.{source}: {e}"))?;
            let mut stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
            let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            stream
                .write_all(req.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let k = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
                if k == 0 || head.len() > 8192 {
                    return Err("no response head".to_string());
                }
                head.extend_from_slice(&buf[..k]);
            }
            if !head.starts_with(b"HTTP/1.1 200") {
                return Err(format!("{:?}", String::from_utf8_lossy(&head)));
            }
            Ok::<_, Error>(stream)
        });
    }
    let mut streams = Vec::with_capacity(n);
    while let Some(res) = set.join_next().await {
        streams.push(res.map_err(|e| e.to_string())??);
    }
    Ok(streams)
}

/// Where the rounds connect: a channel server's `/sub` (hub subscriptions) or `/bare`
/// (idle `#[sse]` streams), or a throughput server's `/idle` (the peers' idle streams).
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// `channels server hub`, `/sub`.
    HubSub,
    /// `channels server hub`, `/bare`.
    HubBare,
    /// `actix-sse-bench server <name>`, `/idle` with a 1 s heartbeat.
    Idle(&'static str),
}

impl Target {
    fn path(self) -> &'static str {
        match self {
            Target::HubSub => "/sub",
            Target::HubBare => "/bare",
            Target::Idle(_) => "/idle?hb_ms=1000",
        }
    }
}

/// `count` rounds of `n` streams on one fresh server: RSS at the start, then with all
/// open and after all closed, per round.
pub fn rounds(
    exe: &std::path::Path,
    n: usize,
    count: u8,
    target: Target,
) -> Result<(f64, Vec<Round>), Error> {
    use super::{driver::wait_count, driver::ChanServer, Contestant};
    use std::time::Duration;
    let (hub, other) = match target {
        Target::HubSub | Target::HubBare => {
            (Some(ChanServer::start(exe, Contestant::Hub, false)?), None)
        }
        Target::Idle(name) => {
            let main = exe.with_file_name("actix-sse-bench");
            let (child, addr) = crate::driver::spawn_server(&main, name, false)?;
            (None, Some(KillOnDrop(child, addr)))
        }
    };
    let (pid, addr) = match (&hub, &other) {
        (Some(h), _) => (h.pid, h.addr),
        (_, Some(o)) => (o.0.id(), o.1),
        _ => unreachable!(),
    };
    let mib = |pid| procfs::rss_kib(pid).map(|k| k as f64 / 1024.0);
    crate::driver::block_on(async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = mib(pid)?;
        let mut out = Vec::new();
        for round in 0..count {
            let streams = open_round(addr, n, 10 + round, target.path()).await?;
            if let (Some(hub), Target::HubSub) = (&hub, target) {
                wait_count(hub, n, Duration::from_secs(60)).await?;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let open_mib = mib(pid)?;
            drop(streams);
            if let (Some(hub), Target::HubSub) = (&hub, target) {
                wait_count(hub, 0, Duration::from_secs(60)).await?;
            }
            // Every server notices a close by its next heartbeat (1 s) at the latest.
            tokio::time::sleep(Duration::from_millis(2000)).await;
            out.push(Round {
                open_mib,
                closed_mib: mib(pid)?,
                data_mib: procfs::status_kib(pid, "VmData")? as f64 / 1024.0,
            });
        }
        Ok((start, out))
    })
}

/// A throughput server child, killed when dropped.
struct KillOnDrop(std::process::Child, std::net::SocketAddr);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prints the rounds: what an operator sees after a load goes away.
pub fn run_rounds(exe: &std::path::Path, n: usize, count: u8, target: Target) -> bool {
    match rounds(exe, n, count, target) {
        Ok((start, rounds)) => {
            println!("- rounds of {n} idle streams, {target:?} (one worker): start {start:.1} MiB");
            for (i, r) in rounds.iter().enumerate() {
                println!(
                    "  - round {}: all open {:.1} MiB ({:.2} KiB per stream over the start), all closed {:.1} MiB (VmData {:.1} MiB)",
                    i + 1,
                    r.open_mib,
                    (r.open_mib - start) * 1024.0 / n as f64,
                    r.closed_mib,
                    r.data_mib
                );
            }
            let growth = rounds[rounds.len() - 1].open_mib - rounds[0].open_mib;
            println!("  - last round's peak minus the first's: {growth:+.1} MiB");
            true
        }
        Err(e) => {
            println!("- rounds: FAILED ({e})");
            false
        }
    }
}
