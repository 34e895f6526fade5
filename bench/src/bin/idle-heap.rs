//! `idle-heap`: the heap an idle stream holds, exactly, over real connections: a counting
//! global allocator, a contestant server on one thread of this process and the bench's
//! client on another, both on 127.0.0.1. Only the server's threads are counted (the
//! client's thread is marked and left out).
//!
//! ```text
//! cargo run --release -p actix-sse-bench --bin idle-heap [-- STREAMS]
//! ```
//!
//! It runs itself once per row (a fresh process each): ours `#[sse]` (`/idle`), ours
//! `Sse::from_fn` as is (`/idle?fn=1`), actix-web-lab, plain actix-web and raw, each with a
//! 1 s heartbeat; it reports live heap bytes and allocations per stream once every stream
//! has its response head and the heads have settled (RSS depends on what the allocator
//! keeps; this does not).

use std::{
    alloc::{GlobalAlloc, Layout, System},
    process::{Command, ExitCode},
    rc::Rc,
    sync::atomic::{AtomicIsize, Ordering::Relaxed},
    time::Duration,
};

use actix_sse_bench::{client::open, driver::raise_fd_limit, servers::Contestant};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; the counters have no effect on the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !counted() {
            return unsafe { System.alloc(layout) };
        }
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        LIVE_ALLOCS.fetch_add(1, Relaxed);
        SIZES[class(layout.size())].fetch_add(1, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !counted() {
            return unsafe { System.dealloc(ptr, layout) };
        }
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Relaxed);
        SIZES[class(layout.size())].fetch_sub(1, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if !counted() {
            return unsafe { System.realloc(ptr, layout, new) };
        }
        LIVE.fetch_add(new as isize - layout.size() as isize, Relaxed);
        SIZES[class(layout.size())].fetch_sub(1, Relaxed);
        SIZES[class(new)].fetch_add(1, Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

thread_local! {
    /// Set on the client's thread: its allocations are not counted.
    static CLIENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn counted() -> bool {
    !CLIENT.with(|c| c.get())
}

/// Live allocations by size, in 8-byte classes up to 4 KiB, then one class for the rest.
static SIZES: [AtomicIsize; 514] = [const { AtomicIsize::new(0) }; 514];

fn class(size: usize) -> usize {
    size.div_ceil(8).min(513)
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The rows: label, contestant, query.
const ROWS: [(&str, &str, &str); 5] = [
    ("ours #[sse]", "ours", ""),
    ("ours Sse::from_fn", "ours", "&fn=1"),
    ("actix-web-lab", "lab", ""),
    ("plain actix-web", "plain", ""),
    ("raw", "raw", ""),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("row") {
        let (Some(c), Some(query), Some(n)) = (args.get(1), args.get(2), args.get(3)) else {
            return ExitCode::from(2);
        };
        return match row(c, query, n.parse().unwrap_or(2000)) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{c}{query}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let exe = std::env::current_exe().expect("current exe");
    println!("| {n} idle streams, 1 s heartbeat | heap per stream | allocations per stream |");
    println!("|---|---:|---:|");
    let mut ok = true;
    for (label, c, query) in ROWS {
        let out = Command::new(&exe)
            .args(["row", c, &format!("?hb_ms=1000{query}"), &n.to_string()])
            .output()
            .expect("run a row");
        if !out.status.success() {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            ok = false;
            continue;
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("| {label} | {}", stdout.lines().last().unwrap_or_default());
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One row, in this process: the server on a thread, `n` streams from this one.
fn row(c: &str, query: &str, n: usize) -> Result<String, String> {
    raise_fd_limit();
    let c: Contestant = c.parse()?;
    // A free port (the server prints it too, on the stdout the parent reads: the row is
    // the last line).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    std::thread::spawn(move || {
        let _ = c.serve(port);
    });
    (0..3000)
        .find(|_| {
            std::thread::sleep(Duration::from_millis(10));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .ok_or("the server did not start within 30 s")?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let path = format!("/idle{query}");
    // The server's threads allocate and free their own memory; the client's (this thread)
    // is left out.
    CLIENT.with(|c| c.set(true));
    actix_sse_bench::driver::block_on(async move {
        // One stream first: lazily created state (runtime, timer wheel, caches) is not
        // counted per stream.
        let warm = open(addr, None, &path, 4096, false, |_| {}).await?;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (heap0, allocs0) = (LIVE.load(Relaxed), LIVE_ALLOCS.load(Relaxed));
        let sizes0: Vec<isize> = SIZES.iter().map(|c| c.load(Relaxed)).collect();
        let sem = Rc::new(tokio::sync::Semaphore::new(256));
        let mut conns = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (sem, path) = (sem.clone(), path.clone());
            tasks.spawn_local(async move {
                let _permit = sem.acquire().await;
                open(addr, None, &path, 4096, false, |_| {}).await
            });
        }
        while let Some(r) = tasks.join_next().await {
            conns.push(r.map_err(|e| e.to_string())??);
        }
        drop(tasks);
        // Every head has gone out (with the first heartbeat at the latest); let the
        // servers' transient state go.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let heap = (LIVE.load(Relaxed) - heap0) as f64 / n as f64;
        let allocs = (LIVE_ALLOCS.load(Relaxed) - allocs0) as f64 / n as f64;
        if std::env::var_os("IDLE_HEAP_SIZES").is_some() {
            // Which sizes the streams hold (to stderr): up to 8 × class bytes each.
            for (i, c) in SIZES.iter().enumerate() {
                let per = (c.load(Relaxed) - sizes0[i]) as f64 / n as f64;
                if per.abs() >= 0.05 {
                    eprintln!("  ≤{:>5} B: {per:+.2} per stream", i * 8);
                }
            }
        }
        drop((conns, warm));
        Ok(format!("{:.0} B | {allocs:.1} |", heap))
    })
}
