//! The scale mode (issue 21): as many concurrent streams as this machine's open-files
//! limit lets one server process hold (19,000 by default), on one worker, against the raw
//! ceiling and actix-web-lab.
//!
//! Per contestant, on one freshly started server, [`ROUNDS`] rounds of: open `conns` idle
//! streams (`/idle?hb_ms=1000`), RSS once they are all open, server CPU over the heartbeat
//! window (every stream idle past its period: `window / 1 s` heartbeat rounds), close them
//! all, wait (at most [`CLOSE_WAIT`]) until the server has let every connection go (its
//! open file descriptors are back to what it had before the round), RSS again. Then, on
//! another fresh server, `conns` fan-out subscribers and `fanout_msgs` events published
//! one at a time: publish-to-receive latency and server CPU per event. For ours the
//! subscribers are on its `Channels` hub (`/hub`: an `#[sse]` handler returning the
//! subscription), and again on its `/fanout` broadcast relay; raw's and the others'
//! `/fanout` relay a `tokio::sync::broadcast`.
//!
//! The client's connections come from [`SOURCES`] loopback addresses in turn
//! (127.0.0.2, .3, …), so that three rounds of 19,000 closed connections in TIME_WAIT
//! never run a source address out of ephemeral ports.

use std::{
    rc::Rc,
    time::{Duration, Instant},
};

use crate::{
    client::Error,
    driver::{
        block_on, failed, fanout_run_at, fmt_num, median, open_crowd, print_table, read_trimmed,
        Config, Crowd, FanoutPaths, Row, Server,
    },
    procfs,
    servers::Contestant,
};

/// Rounds of open-all / close-all on one server.
pub const ROUNDS: usize = 3;

/// Loopback source addresses the client's connections are spread over.
pub const SOURCES: u8 = 32;

/// The heartbeat period of the idle streams.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// The longest wait for a server to let go of the connections the client closed. A
/// server that only notices a close when a write fails needs up to two heartbeats.
pub const CLOSE_WAIT: Duration = Duration::from_secs(30);

/// File descriptors a server may hold over its count before the round (the tokio or actix
/// runtime may open one lazily) for its connections to count as gone.
const FD_SLACK: usize = 8;

/// Pause between two published fan-out events.
const FANOUT_GAP: Duration = Duration::from_millis(200);

/// One round of idle streams.
#[derive(Debug, Clone, Copy)]
struct IdleRound {
    /// RSS with every stream open, KiB.
    open_kib: u64,
    /// RSS once the server let every stream go, KiB.
    closed_kib: u64,
    /// `VmData` then, KiB.
    data_kib: u64,
    /// Server CPU over the heartbeat window, ns (schedstat, else utime + stime).
    cpu_ns: u64,
    /// The same from utime + stime (clock ticks), s.
    stat_cpu_s: f64,
    /// Heartbeats the client received in the window.
    heartbeats: u64,
    /// From the client closing every stream to the server holding none.
    close_wait: Duration,
    /// File descriptors the server held above its count before the round, after the wait.
    fds_left: usize,
}

/// The idle rounds of one server: RSS at the start and each round.
struct IdleRounds {
    start_kib: u64,
    start_data_kib: u64,
    rounds: Vec<IdleRound>,
}

/// Waits until the server holds at most `fd0` + [`FD_SLACK`] descriptors, at most
/// [`CLOSE_WAIT`]. Returns how long it took and how many it held over `fd0` then.
async fn wait_closed(pid: u32, fd0: usize) -> Result<(Duration, usize), Error> {
    let t0 = Instant::now();
    loop {
        let fds = procfs::fd_count(pid)?;
        if fds <= fd0 + FD_SLACK {
            return Ok((t0.elapsed(), fds.saturating_sub(fd0)));
        }
        if t0.elapsed() > CLOSE_WAIT {
            return Err(format!(
                "server still holds {} connections {CLOSE_WAIT:?} after the client closed them",
                fds - fd0
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One round on `server`: open `cfg.conns` idle streams, RSS, heartbeat CPU over
/// `cfg.window`, close, wait for the server to let go, RSS.
async fn idle_round(server: &Server, cfg: &Config, fd0: usize) -> Result<IdleRound, Error> {
    let pid = server.pid;
    let crowd = Rc::new(Crowd::default());
    let path = format!("/idle?hb_ms={}", HEARTBEAT.as_millis());
    let set = open_crowd(server.addr, &path, cfg.conns, SOURCES, &crowd, |_| {
        Box::new(|_| {})
    })
    .await?;
    tokio::time::sleep(cfg.settle).await;
    crowd.check()?;
    let open_kib = procfs::rss_kib(pid)?;
    let (c0, s0, hb0) = (
        procfs::cpu_ns(pid)?,
        procfs::cpu_secs(pid)?,
        crowd.comments.get(),
    );
    tokio::time::sleep(cfg.window).await;
    let (c1, s1, hb1) = (
        procfs::cpu_ns(pid)?,
        procfs::cpu_secs(pid)?,
        crowd.comments.get(),
    );
    crowd.check()?;
    let heartbeats = hb1 - hb0;
    let expected = cfg.conns as f64 * cfg.window.as_secs_f64() / HEARTBEAT.as_secs_f64();
    if (heartbeats as f64) < 0.8 * expected {
        return Err(format!(
            "{path}: {heartbeats} heartbeats in {:?} on {} streams, ~{expected:.0} expected",
            cfg.window, cfg.conns
        ));
    }
    drop(set);
    let (close_wait, fds_left) = wait_closed(pid, fd0).await?;
    // Let the allocator and the runtime finish whatever the closes started.
    tokio::time::sleep(cfg.settle.min(Duration::from_millis(500))).await;
    Ok(IdleRound {
        open_kib,
        closed_kib: procfs::rss_kib(pid)?,
        data_kib: procfs::status_kib(pid, "VmData")?,
        cpu_ns: c1.saturating_sub(c0),
        stat_cpu_s: s1 - s0,
        heartbeats,
        close_wait,
        fds_left,
    })
}

/// [`ROUNDS`] idle rounds on one fresh server.
fn idle_rounds(cfg: &Config, c: Contestant) -> Result<IdleRounds, Error> {
    let server = Server::start(&cfg.exe, c, cfg.pin)?;
    block_on(async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start_kib = procfs::rss_kib(server.pid)?;
        let start_data_kib = procfs::status_kib(server.pid, "VmData")?;
        let fd0 = procfs::fd_count(server.pid)?;
        let mut rounds = Vec::with_capacity(ROUNDS);
        for r in 0..ROUNDS {
            eprintln!("  {c}: idle round {}", r + 1);
            rounds.push(idle_round(&server, cfg, fd0).await?);
        }
        Ok(IdleRounds {
            start_kib,
            start_data_kib,
            rounds,
        })
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The rows of the idle rounds of one contestant.
fn idle_rows(cfg: &Config, c: Contestant, r: &IdleRounds) -> Vec<Row> {
    let n = cfg.conns;
    let periods = cfg.window.as_secs_f64() / HEARTBEAT.as_secs_f64();
    let opens: Vec<String> = r.rounds.iter().map(|x| fmt_num(mib(x.open_kib))).collect();
    let mut rows = vec![Row {
        measure: format!("scale: idle RSS/stream ({n} streams)"),
        contestant: c,
        values: vec![r.rounds[0].open_kib.saturating_sub(r.start_kib) as f64 / n as f64],
        unit: "KiB",
        note: format!(
            "round 1; RSS at start {} MiB, all open {} MiB (rounds 1/2/3); VmData at start {} MiB",
            fmt_num(mib(r.start_kib)),
            opens.join("/"),
            fmt_num(mib(r.start_data_kib))
        ),
        error: None,
    }];
    // CPU of one heartbeat round: the window's CPU over the periods in it.
    let per_round_ms: Vec<f64> = r
        .rounds
        .iter()
        .map(|x| x.cpu_ns as f64 / 1e6 / periods)
        .collect();
    let stat_ms: Vec<f64> = r
        .rounds
        .iter()
        .map(|x| x.stat_cpu_s * 1e3 / periods)
        .collect();
    let hbs: Vec<String> = r.rounds.iter().map(|x| x.heartbeats.to_string()).collect();
    let m = median(&per_round_ms).unwrap_or(0.0);
    rows.push(Row {
        measure: format!("scale: CPU/heartbeat round ({n} streams, 1 s)"),
        contestant: c,
        values: per_round_ms,
        unit: "ms",
        note: format!(
            "{} µs/stream; utime+stime {} ms; heartbeats in {:?} per round: {} (~{:.0} expected)",
            fmt_num(m * 1e3 / n as f64),
            fmt_num(median(&stat_ms).unwrap_or(0.0)),
            cfg.window,
            hbs.join("/"),
            n as f64 * periods
        ),
        error: None,
    });
    for (i, x) in r.rounds.iter().enumerate() {
        let growth = if i == 0 {
            String::new()
        } else {
            format!(
                "; {:+.1} MiB over round 1",
                mib(x.closed_kib) - mib(r.rounds[0].closed_kib)
            )
        };
        rows.push(Row {
            measure: format!("scale: RSS after all close, round {}", i + 1),
            contestant: c,
            values: vec![mib(x.closed_kib)],
            unit: "MiB",
            note: format!(
                "VmData {} MiB; all gone {:.1} s after the close ({} fds over the start){growth}",
                fmt_num(mib(x.data_kib)),
                x.close_wait.as_secs_f64(),
                x.fds_left
            ),
            error: None,
        });
    }
    rows
}

/// The failed rows of the idle rounds.
fn idle_failed(cfg: &Config, c: Contestant, e: &str) -> Vec<Row> {
    let n = cfg.conns;
    let mut rows = vec![
        failed(
            &format!("scale: idle RSS/stream ({n} streams)"),
            c,
            "KiB",
            e.into(),
        ),
        failed(
            &format!("scale: CPU/heartbeat round ({n} streams, 1 s)"),
            c,
            "ms",
            e.into(),
        ),
    ];
    for i in 0..ROUNDS {
        rows.push(failed(
            &format!("scale: RSS after all close, round {}", i + 1),
            c,
            "MiB",
            e.into(),
        ));
    }
    rows
}

/// The fan-out rows of one contestant on `paths`, `what` naming them in the notes.
fn fanout_rows(cfg: &Config, c: Contestant, paths: FanoutPaths<'_>, what: &str) -> Vec<Row> {
    let n = cfg.conns;
    let measures = [
        (format!("scale: fan-out p50 ({n} subscribers)"), "ms"),
        (format!("scale: fan-out p99 ({n} subscribers)"), "ms"),
        (format!("scale: fan-out CPU/event ({n} subscribers)"), "ms"),
    ];
    eprintln!("  {c}: fan-out, {what}");
    let r = Server::start(&cfg.exe, c, cfg.pin).and_then(|server| {
        block_on(fanout_run_at(
            &server,
            paths,
            n,
            cfg.fanout_msgs,
            1,
            FANOUT_GAP,
        ))
    });
    let events = match r {
        Ok(events) => events,
        Err(e) => {
            return measures
                .iter()
                .map(|(m, unit)| failed(m, c, unit, format!("{what}: {e}")))
                .collect()
        }
    };
    let p50: Vec<f64> = events.iter().map(|x| x.p50_us / 1e3).collect();
    let p99: Vec<f64> = events.iter().map(|x| x.p99_us / 1e3).collect();
    let max: Vec<f64> = events.iter().map(|x| x.max_us / 1e3).collect();
    let cpu: Vec<f64> = events.iter().map(|x| x.cpu_us / 1e3).collect();
    let kib = events.first().map_or(0.0, |x| x.kib_per_sub);
    let m_cpu = median(&cpu).unwrap_or(0.0);
    let values = [p50, p99, cpu];
    let notes = [
        format!("{what}; {} events", events.len()),
        format!("{what}; max {} ms", fmt_num(median(&max).unwrap_or(0.0))),
        format!(
            "{what}; {} µs/subscriber; RSS {} KiB/subscriber",
            fmt_num(m_cpu * 1e3 / n as f64),
            fmt_num(kib)
        ),
    ];
    measures
        .into_iter()
        .zip(values)
        .zip(notes)
        .map(|(((measure, unit), values), note)| Row {
            measure,
            contestant: c,
            values,
            unit,
            note,
            error: None,
        })
        .collect()
}

/// Runs the scale mode on `cfg.contestants` and prints the table. Returns false if any
/// contestant failed a measurement.
pub fn run_scale(cfg: &Config) -> bool {
    let t0 = Instant::now();
    let hub = FanoutPaths {
        sub: "/hub",
        publish: "/hub_publish",
        sources: SOURCES,
    };
    let relay = FanoutPaths {
        sources: SOURCES,
        ..FanoutPaths::BROADCAST
    };
    let mut idle = Vec::new();
    let mut fanout = Vec::new();
    for &c in &cfg.contestants {
        eprintln!("scale: {c}, {} streams", cfg.conns);
        match idle_rounds(cfg, c) {
            Ok(r) => idle.extend(idle_rows(cfg, c, &r)),
            Err(e) => {
                eprintln!("  {c}: FAILED: {e}");
                idle.extend(idle_failed(cfg, c, &e));
            }
        }
        if c == Contestant::Ours {
            fanout.extend(fanout_rows(cfg, c, hub, "Channels hub (/hub)"));
            fanout.extend(fanout_rows(cfg, c, relay, "broadcast relay (/fanout)"));
        } else {
            fanout.extend(fanout_rows(cfg, c, relay, "broadcast (/fanout)"));
        }
    }
    // Group by measure, in the order they were first made.
    let mut rows: Vec<Row> = Vec::new();
    let all: Vec<Row> = idle.into_iter().chain(fanout).collect();
    for r in &all {
        if !rows.iter().any(|x| x.measure == r.measure) {
            rows.extend(all.iter().filter(|x| x.measure == r.measure).cloned());
        }
    }
    println!();
    print_table(&rows);
    println!(
        "\n{} streams from {SOURCES} source addresses (127.0.0.2-.{}); {ROUNDS} idle rounds of \
         {:?} heartbeat windows; {} fan-out events; servers {}; open-files limit {}; \
         loadavg {}; total {:.0} s",
        cfg.conns,
        1 + SOURCES,
        cfg.window,
        cfg.fanout_msgs,
        crate::driver::pinning(cfg.pin),
        crate::driver::raise_fd_limit(),
        read_trimmed("/proc/loadavg"),
        t0.elapsed().as_secs_f64()
    );
    rows.iter().all(|r| r.error.is_none())
}
