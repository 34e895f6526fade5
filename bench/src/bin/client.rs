//! The SSE clients side by side: `actix_sse::client` against `reqwest-eventsource` 0.6
//! and LaunchDarkly's `eventsource-client` 0.16, each reading the same server (the raw
//! ceiling server of this crate, in a thread of this process, so that the server is never
//! the bottleneck) in the same run: N events of 64 B with an `id` each, over one
//! HTTP/1.1 connection on 127.0.0.1. Every client must get exactly N events whose data is
//! 64 `x` and whose id is the number of events before it.
//!
//! ```text
//! cargo run --release -p actix-sse-bench --bin client            # 1,000,000 events, 3 runs
//! cargo run --release -p actix-sse-bench --bin client -- 200000 1  # N events, R runs
//! ```
//!
//! Figures: events/s (N / connect → last event, median of the runs), and the client's CPU
//! per event (the thread's CPU time — everything runs on one current-thread runtime — over
//! N, median of the runs).

use std::{process::ExitCode, time::Instant};

use futures_util::StreamExt;

const SIZE: usize = 64;

/// This thread's CPU time, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Checks one event: `i` is its index.
fn check(i: u64, id: &str, data: &str) -> Result<(), String> {
    if data.len() != SIZE || !data.bytes().all(|b| b == b'x') {
        return Err(format!("event {i}: wrong data ({} bytes)", data.len()));
    }
    if id.parse::<u64>().ok() != Some(i) {
        return Err(format!("event {i}: id {id:?}"));
    }
    Ok(())
}

async fn ours(url: &str, n: u64) -> Result<(), String> {
    let mut events = actix_sse::client::EventSource::get(url)
        .max_reconnects(0)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    for i in 0..n {
        let ev = events
            .next()
            .await
            .ok_or("ended early")?
            .map_err(|e| e.to_string())?;
        check(i, ev.last_event_id(), ev.data())?;
    }
    Ok(())
}

async fn reqwest_es(url: &str, n: u64) -> Result<(), String> {
    use reqwest_eventsource::{Event, EventSource};
    let mut es = EventSource::get(url);
    let mut i = 0;
    while i < n {
        match es.next().await.ok_or("ended early")? {
            Ok(Event::Open) => {}
            Ok(Event::Message(m)) => {
                check(i, &m.id, &m.data)?;
                i += 1;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    es.close();
    Ok(())
}

async fn launchdarkly(url: &str, n: u64) -> Result<(), String> {
    use eventsource_client::{Client, ClientBuilder, ReconnectOptions, SSE};
    let client = ClientBuilder::for_url(url)
        .map_err(|e| format!("{e:?}"))?
        .reconnect(ReconnectOptions::reconnect(false).build())
        .build_http();
    let mut stream = client.stream();
    let mut i = 0;
    while i < n {
        match stream.next().await.ok_or("ended early")? {
            Ok(SSE::Event(ev)) => {
                check(i, ev.id.as_deref().unwrap_or(""), &ev.data)?;
                i += 1;
            }
            Ok(_) => {}
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok(())
}

const CLIENTS: [&str; 3] = [
    "actix_sse::client",
    "reqwest-eventsource",
    "eventsource-client",
];

/// One run of client `c`: (events/s, CPU µs per event).
fn run(c: usize, url: &str, n: u64) -> Result<(f64, f64), String> {
    actix_web::rt::System::new().block_on(async {
        let (start, cpu) = (Instant::now(), thread_cpu());
        match c {
            0 => ours(url, n).await?,
            1 => reqwest_es(url, n).await?,
            _ => launchdarkly(url, n).await?,
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu = thread_cpu() - cpu;
        Ok((n as f64 / secs, cpu / n as f64 * 1e6))
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    std::thread::spawn(move || actix_sse_bench::servers::Contestant::Raw.serve(port));
    let url = format!("http://127.0.0.1:{port}/stream?n={n}&size={SIZE}&ids=1");
    // Wait for the server to listen.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut results: Vec<(Vec<f64>, Vec<f64>)> = vec![Default::default(); CLIENTS.len()];
    let mut failed = false;
    // Interleaved: each round runs every client once.
    for _ in 0..runs {
        for (c, name) in CLIENTS.iter().enumerate() {
            match run(c, &url, n) {
                Ok((rate, cpu)) => {
                    results[c].0.push(rate);
                    results[c].1.push(cpu);
                }
                Err(e) => {
                    eprintln!("{name}: FAILED: {e}");
                    failed = true;
                }
            }
        }
    }
    println!("{n} events of {SIZE} B with an id each, one connection, {runs} run(s) each\n");
    println!("| client | events/s (median) | CPU per event | runs (M events/s) |");
    println!("|---|---:|---:|---|");
    let mut medians = Vec::new();
    for (c, name) in CLIENTS.iter().enumerate() {
        let (rates, cpus) = &results[c];
        if rates.is_empty() {
            println!("| {name} | FAILED | | |");
            medians.push(0.0);
            continue;
        }
        let all: Vec<String> = rates.iter().map(|r| format!("{:.2}", r / 1e6)).collect();
        let rate = median(rates.clone());
        medians.push(rate);
        println!(
            "| {name} | {:.2} M | {:.3} µs | {} |",
            rate / 1e6,
            median(cpus.clone()),
            all.join(", ")
        );
    }
    let peers = medians[1].max(medians[2]);
    if peers > 0.0 {
        println!(
            "\nactix_sse::client / the faster peer: {:.2}×",
            medians[0] / peers
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
