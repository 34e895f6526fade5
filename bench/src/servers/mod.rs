//! The contestant servers. Each binds 127.0.0.1 on the given port (0: any), prints
//! `port <N>` on stdout, and serves on one worker thread / a current-thread runtime:
//!
//! - `/stream?n=N&size=S`: N events with an S-byte payload, as fast as the client reads,
//!   then the end of the body;
//! - `/idle?hb_ms=P`: no events, a heartbeat every P ms;
//! - `/fanout`: every message published on the server's `tokio::sync::broadcast`;
//! - `/publish`: publishes one message stamped with [`now_ns`](crate::proto::now_ns),
//!   answers the number of subscribers it reached;
//! - `/slow?secs=T&size=S`: a handler producing 10,000 events/s for T seconds.

use std::{
    fmt,
    net::SocketAddr,
    str::FromStr,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures_util::{stream, Stream};
use tokio::sync::broadcast;

use crate::proto::{fanout_message, SLOW_PER_TICK};

pub mod axum_srv;
pub mod lab;
pub mod ours;
pub mod plain;
pub mod raw;

/// A contestant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contestant {
    /// actix-web + sse-runtime (`Sse::from_fn`, what `#[sse]` expands to).
    Ours,
    /// actix-web + actix-web-lab 0.29 `sse::Sse`.
    Lab,
    /// axum 0.8 `Sse` on hyper (`axum::serve`).
    Axum,
    /// tokio `TcpListener`, hand-written HTTP/1.1 chunked writes of pre-framed events in
    /// large batches: the ceiling.
    Raw,
    /// actix-web with a plain `HttpResponse::streaming` body of pre-framed bytes: the
    /// baseline of actix-web's own cost.
    Plain,
}

impl Contestant {
    /// Every contestant, the ceiling first.
    pub const ALL: [Contestant; 5] = [
        Contestant::Raw,
        Contestant::Ours,
        Contestant::Lab,
        Contestant::Axum,
        Contestant::Plain,
    ];

    /// The name used on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Contestant::Ours => "ours",
            Contestant::Lab => "lab",
            Contestant::Axum => "axum",
            Contestant::Raw => "raw",
            Contestant::Plain => "plain",
        }
    }

    /// Runs this contestant's server until the process is killed.
    pub fn serve(self, port: u16) -> std::io::Result<()> {
        match self {
            Contestant::Ours => ours::serve(port),
            Contestant::Lab => lab::serve(port),
            Contestant::Axum => axum_srv::serve(port),
            Contestant::Raw => raw::serve(port),
            Contestant::Plain => plain::serve(port),
        }
    }
}

impl fmt::Display for Contestant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Contestant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Contestant::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown contestant {s:?} (raw, ours, lab, axum, plain)"))
    }
}

/// Listen backlog: 10,000 connections arrive in a burst.
pub const BACKLOG: u32 = 4096;

/// The fan-out hub of a server: a broadcast channel and the next message number.
pub struct Hub<T> {
    /// The channel every `/fanout` stream subscribes to.
    pub tx: broadcast::Sender<T>,
    seq: AtomicU64,
}

impl<T: Clone> Hub<T> {
    /// A hub with room for 64 unread messages per subscriber.
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(64).0,
            seq: AtomicU64::new(0),
        }
    }

    /// Publishes the next stamped message, mapped by `wrap`; returns the number of
    /// subscribers it reached.
    pub fn publish(&self, wrap: impl FnOnce(String) -> T) -> usize {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.tx.send(wrap(fanout_message(seq))).unwrap_or(0)
    }
}

impl<T: Clone> Default for Hub<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Binds a tokio listener on 127.0.0.1:`port` with [`BACKLOG`], and prints the port.
pub fn tokio_listener(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.set_reuseaddr(true)?;
    sock.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    let l = sock.listen(BACKLOG)?;
    announce(l.local_addr()?.port());
    Ok(l)
}

/// Prints `port <N>` on stdout, the line the driver waits for.
pub fn announce(port: u16) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "port {port}");
    let _ = out.flush();
}

/// `n` copies of `item`, all ready at once.
pub fn repeat_n<T: Clone>(item: T, n: u64) -> impl Stream<Item = T> {
    stream::iter((0..n).map(move |_| item.clone()))
}

/// The items of `rx` until it closes; a lagging subscriber skips what it missed.
pub fn broadcast_stream<T: Clone + 'static>(rx: broadcast::Receiver<T>) -> impl Stream<Item = T> {
    stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(m) => return Some((m, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// `item` 10,000 times a second (10 per 1 ms tick) for `secs`: the `/slow` producer for
/// stream-based contestants. It waits whenever the consumer does (back-pressure).
pub fn slow_stream<T: Clone + 'static>(item: T, secs: Duration) -> impl Stream<Item = T> {
    let deadline = tokio::time::Instant::now() + secs;
    let mut iv = tokio::time::interval(Duration::from_millis(1));
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    stream::unfold((iv, 0u64), move |(mut iv, mut left)| {
        let item = item.clone();
        async move {
            if left == 0 {
                iv.tick().await;
                left = SLOW_PER_TICK;
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            Some((item, (iv, left - 1)))
        }
    })
}

/// Runs an actix-web contestant: `routes` with `data` as app data, one worker, a deep
/// backlog, no signal handling (the driver kills by PID). Blocks until killed.
pub fn actix_serve<D: Send + Sync + 'static>(
    port: u16,
    data: D,
    routes: fn(&mut actix_web::web::ServiceConfig),
) -> std::io::Result<()> {
    let data = actix_web::web::Data::new(data);
    actix_web::rt::System::new().block_on(async move {
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .configure(routes)
        })
        .workers(1)
        .backlog(BACKLOG)
        .max_connections(100_000)
        .disable_signals()
        .shutdown_timeout(0);
        // Experiments only: actix-http's write-buffer size (default 32 KiB).
        let server = match std::env::var("BENCH_H1_WRITE_BUF")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            Some(size) => server.h1_write_buffer_size(size),
            None => server,
        }
        .bind(("127.0.0.1", port))?;
        announce(server.addrs()[0].port());
        server.run().await
    })
}
