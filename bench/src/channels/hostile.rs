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
    let first = rt.block_on(async {
        let mut first = None;
        for i in 0..n {
            let id = hub
                .publish(&format!("room/{i}"), "0123456789abcdef")
                .await
                .map_err(|e| e.to_string())?;
            first.get_or_insert(id);
        }
        Ok::<_, Error>(first.ok_or("nothing published")?)
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
         {:.2} µs per publish; an evicted room resumes with a reset; publishing works",
        hub.memory_used() as f64 / 1048576.0,
        hub.topic_count(),
        secs * 1e6 / f64::from(n)
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
