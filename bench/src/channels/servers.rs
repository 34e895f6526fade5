//! The three channel servers. Each binds 127.0.0.1 on the given port (0: any), prints
//! `port <N>` on stdout and serves, on one thread, the same endpoints:
//!
//! - `GET /sub` (optionally with `Last-Event-ID`): the event stream of topic [`TOPIC`],
//!   every event with an `id:`; raw and hub resume after the id from their history;
//! - `GET /bare` (relay and hub): an `#[sse]` stream that never sends anything, the
//!   baseline for memory per subscriber;
//! - `GET /count`: how many subscribers the topic has;
//! - `GET /run?rate=R&secs=S&size=B`: starts a task on the server's thread publishing
//!   `R × S` events at `R` per second (a tokio interval that catches up if it is late),
//!   each payload stamped with `CLOCK_MONOTONIC` right before it is published ([`payload`]);
//!   answers at once;
//! - `GET /fill?n=N&size=B`: publishes `N` events at once; answers `<first id> <last id>`;
//! - `GET /stats`: `<published> <first publish ns> <last publish ns>`.

use std::{
    cell::RefCell,
    collections::VecDeque,
    future::Future,
    net::SocketAddr,
    rc::Rc,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use actix_sse::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{BufMut, Bytes, BytesMut};
use tokio::{
    io::AsyncWriteExt,
    net::TcpStream,
    sync::broadcast::{self, error::RecvError, error::TryRecvError},
};

use super::{payload, query_u64, HISTORY_BYTES, HISTORY_EVENTS, MAX_RUN_EVENTS, QUEUE, TOPIC};
use crate::proto::{now_ns, read_head};

/// Listen backlog: thousands of connections arrive in a burst.
const BACKLOG: u32 = 4096;

/// Largest write of the raw server.
const BATCH: usize = 64 * 1024;

/// Publish counters of a server.
#[derive(Debug, Default)]
pub struct Stats {
    published: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
}

impl Stats {
    fn record(&self) {
        let now = now_ns();
        if self.published.fetch_add(1, Relaxed) == 0 {
            self.first_ns.store(now, Relaxed);
        }
        self.last_ns.store(now, Relaxed);
    }

    fn text(&self) -> String {
        format!(
            "{} {} {}",
            self.published.load(Relaxed),
            self.first_ns.load(Relaxed),
            self.last_ns.load(Relaxed)
        )
    }
}

/// The `/run` parameters: (rate, total events, payload size), or an error text.
fn run_params(query: &str) -> Result<(u64, u64, usize), String> {
    let rate = query_u64(query, "rate").unwrap_or(1000).max(1);
    let secs = query_u64(query, "secs").unwrap_or(10);
    let size = query_u64(query, "size").unwrap_or(64) as usize;
    let total = rate.saturating_mul(secs);
    if total > MAX_RUN_EVENTS {
        return Err(format!("at most {MAX_RUN_EVENTS} events per run"));
    }
    Ok((rate, total, size))
}

/// Publishes `total` events at `rate` per second: event `k` (from 1) gets
/// [`payload`]`(k, due, size)`, built right before `publish(k, payload)` is called, where
/// `due` is when the schedule wanted it published (start + (k − 1) / rate).
async fn publish_loop<F, Fut>(rate: u64, total: u64, size: usize, stats: &Stats, mut publish: F)
where
    F: FnMut(u64, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let period = 1_000_000_000 / rate;
    let mut iv = tokio::time::interval(Duration::from_nanos(period));
    let start = now_ns();
    for k in 1..=total {
        iv.tick().await;
        publish(k, payload(k, start + (k - 1) * period, size)).await;
        stats.record();
    }
}

/// Prints `port <N>` on stdout, the line the driver waits for.
fn announce(port: u16) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "port {port}");
    let _ = out.flush();
}

// ---------------------------------------------------------------------------------------
// raw

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";

/// The raw server's state (one thread).
struct Raw {
    tx: broadcast::Sender<(u64, Bytes)>,
    /// Pre-framed chunks of the last [`HISTORY_EVENTS`] events, and the number of the first.
    history: RefCell<(VecDeque<Bytes>, u64)>,
    next: std::cell::Cell<u64>,
    stats: Stats,
}

impl Raw {
    /// Frames event `k` once (chunk header, `id:`, `data:`), keeps it and broadcasts it.
    fn publish(&self, data: &str) -> u64 {
        let k = self.next.get();
        self.next.set(k + 1);
        let body = format!("id: {k}\ndata: {data}\n\n");
        let mut b = BytesMut::with_capacity(body.len() + 12);
        b.put_slice(format!("{:x}\r\n", body.len()).as_bytes());
        b.put_slice(body.as_bytes());
        b.put_slice(b"\r\n");
        let chunk = b.freeze();
        let mut h = self.history.borrow_mut();
        if h.0.is_empty() {
            h.1 = k;
        }
        h.0.push_back(chunk.clone());
        if h.0.len() > HISTORY_EVENTS {
            h.0.pop_front();
            h.1 += 1;
        }
        drop(h);
        let _ = self.tx.send((k, chunk));
        k
    }
}

/// Serves the raw contestant until killed.
pub fn raw(port: u16) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.set_reuseaddr(true)?;
        sock.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
        let listener = sock.listen(BACKLOG)?;
        announce(listener.local_addr()?.port());
        let state = Rc::new(Raw {
            tx: broadcast::channel(QUEUE).0,
            history: RefCell::new((VecDeque::new(), 1)),
            next: std::cell::Cell::new(1),
            stats: Stats::default(),
        });
        loop {
            let (sock, _) = listener.accept().await?;
            let state = state.clone();
            tokio::task::spawn_local(async move {
                let _ = raw_conn(sock, state).await;
            });
        }
    })
}

/// A short response with a body, then the connection closes.
async fn raw_reply(sock: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let resp = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(resp.as_bytes()).await
}

async fn raw_conn(mut sock: TcpStream, st: Rc<Raw>) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let Some(head) = read_head(&mut sock).await? else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let last_id: Option<u64> = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("last-event-id"))
        .and_then(|(_, v)| v.trim().parse().ok());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    match path {
        "/sub" => {
            let mut rx = st.tx.subscribe();
            sock.write_all(HEAD).await?;
            let mut out = BytesMut::with_capacity(BATCH + 1024);
            // Replay what is after the client's id. Subscribed first and no await in
            // between: nothing published can fall between the history and `rx`.
            let mut upto = 0;
            if let Some(last) = last_id {
                let chunks: Vec<Bytes> = {
                    let h = st.history.borrow();
                    let skip = (last + 1).saturating_sub(h.1) as usize;
                    upto = h.1 + h.0.len() as u64 - 1;
                    h.0.iter().skip(skip).cloned().collect()
                };
                for c in chunks {
                    out.extend_from_slice(&c);
                    if out.len() >= BATCH {
                        sock.write_all(&out).await?;
                        out.clear();
                    }
                }
                if !out.is_empty() {
                    sock.write_all(&out).await?;
                    out.clear();
                }
            }
            loop {
                let (k, chunk) = match rx.recv().await {
                    Ok(m) => m,
                    // Cannot happen within `QUEUE`; ending shows up as a failure.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return Ok(()),
                };
                if k > upto {
                    out.extend_from_slice(&chunk);
                }
                // Whatever else is ready goes in the same write.
                while out.len() < BATCH {
                    match rx.try_recv() {
                        Ok((k, c)) if k > upto => out.extend_from_slice(&c),
                        Ok(_) => {}
                        Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
                        Err(TryRecvError::Lagged(_)) => return Ok(()),
                    }
                }
                if !out.is_empty() {
                    sock.write_all(&out).await?;
                    out.clear();
                }
            }
        }
        "/count" => raw_reply(&mut sock, "200 OK", &st.tx.receiver_count().to_string()).await,
        "/stats" => raw_reply(&mut sock, "200 OK", &st.stats.text()).await,
        "/fill" => {
            let n = query_u64(query, "n").unwrap_or(1).max(1);
            let size = query_u64(query, "size").unwrap_or(32) as usize;
            let mut ids = (0, 0);
            for k in 1..=n {
                let id = st.publish(&payload(k, 0, size));
                st.stats.record();
                if k == 1 {
                    ids.0 = id;
                }
                ids.1 = id;
            }
            raw_reply(&mut sock, "200 OK", &format!("{} {}", ids.0, ids.1)).await
        }
        "/run" => match run_params(query) {
            Ok((rate, total, size)) => {
                let st = st.clone();
                tokio::task::spawn_local(async move {
                    publish_loop(rate, total, size, &st.stats, |_, p| {
                        st.publish(&p);
                        std::future::ready(())
                    })
                    .await;
                });
                raw_reply(&mut sock, "200 OK", "ok").await
            }
            Err(e) => raw_reply(&mut sock, "400 Bad Request", &e).await,
        },
        _ => raw_reply(&mut sock, "404 Not Found", "").await,
    }
}

// ---------------------------------------------------------------------------------------
// actix-web contestants

/// Runs an actix-web app configured by `routes` on one worker, a deep backlog, no signal
/// handling (the driver kills by PID). Blocks until killed.
fn actix_serve<F>(port: u16, routes: F) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    actix_web::rt::System::new().block_on(async move {
        let server =
            actix_web::HttpServer::new(move || actix_web::App::new().configure(routes.clone()))
                .workers(1)
                .backlog(BACKLOG)
                .max_connections(100_000)
                .disable_signals()
                .shutdown_timeout(0)
                .bind(("127.0.0.1", port))?;
        announce(server.addrs()[0].port());
        server.run().await
    })
}

/// An `#[sse]` stream that sends nothing: what any `#[sse]` subscriber costs at least.
#[sse("/bare")]
async fn bare() {
    std::future::pending::<()>().await
}

async fn stats(stats: web::Data<Stats>) -> HttpResponse {
    HttpResponse::Ok().body(stats.text())
}

/// The relay's state: a broadcast of `(id, text)`, as the chat example had it.
struct Relay {
    tx: broadcast::Sender<(u64, String)>,
    next: AtomicU64,
}

impl Relay {
    fn publish(&self, text: String) -> u64 {
        let k = self.next.fetch_add(1, Relaxed);
        let _ = self.tx.send((k, text));
        k
    }
}

/// The chat example before channels, minus its greeting: relay the broadcast, one
/// `send!(text, id = n)` per message and subscriber.
#[sse("/sub")]
async fn relay_sub(relay: web::Data<Relay>) {
    let mut rx = relay.tx.subscribe();
    loop {
        match rx.recv().await {
            Ok((id, text)) => {
                send!(text, id = id);
            }
            Err(RecvError::Lagged(n)) => {
                send!(
                    format!("{n} messages were skipped: you were too slow"),
                    event = "system"
                );
            }
            Err(RecvError::Closed) => break,
        }
    }
}

async fn relay_count(relay: web::Data<Relay>) -> HttpResponse {
    HttpResponse::Ok().body(relay.tx.receiver_count().to_string())
}

async fn relay_run(
    relay: web::Data<Relay>,
    st: web::Data<Stats>,
    req: HttpRequest,
) -> HttpResponse {
    match run_params(req.query_string()) {
        Ok((rate, total, size)) => {
            actix_web::rt::spawn(async move {
                publish_loop(rate, total, size, &st, |_, p| {
                    relay.publish(p);
                    std::future::ready(())
                })
                .await;
            });
            HttpResponse::Ok().body("ok")
        }
        Err(e) => HttpResponse::BadRequest().body(e),
    }
}

async fn relay_fill(
    relay: web::Data<Relay>,
    st: web::Data<Stats>,
    req: HttpRequest,
) -> HttpResponse {
    let n = query_u64(req.query_string(), "n").unwrap_or(1).max(1);
    let size = query_u64(req.query_string(), "size").unwrap_or(32) as usize;
    let mut ids = (0, 0);
    for k in 1..=n {
        let id = relay.publish(payload(k, 0, size));
        st.record();
        if k == 1 {
            ids.0 = id;
        }
        ids.1 = id;
    }
    HttpResponse::Ok().body(format!("{} {}", ids.0, ids.1))
}

/// Serves the relay contestant until killed.
pub fn relay(port: u16) -> std::io::Result<()> {
    let relay = web::Data::new(Relay {
        tx: broadcast::channel(QUEUE).0,
        next: AtomicU64::new(1),
    });
    let st = web::Data::new(Stats::default());
    actix_serve(port, move |cfg| {
        cfg.app_data(relay.clone())
            .app_data(st.clone())
            .service(relay_sub)
            .service(bare)
            .route("/count", web::get().to(relay_count))
            .route("/run", web::get().to(relay_run))
            .route("/fill", web::get().to(relay_fill))
            .route("/stats", web::get().to(stats));
    })
}

/// The hub: one line, the subscription is the stream (history replay, then live).
#[sse("/sub")]
async fn hub_sub(hub: web::Data<Channels>, last: LastEventId) -> impl Stream<Item = ChannelEvent> {
    hub.subscribe(TOPIC, &last).await
}

async fn hub_count(hub: web::Data<Channels>) -> HttpResponse {
    HttpResponse::Ok().body(hub.subscriber_count(TOPIC).to_string())
}

async fn hub_run(hub: web::Data<Channels>, st: web::Data<Stats>, req: HttpRequest) -> HttpResponse {
    match run_params(req.query_string()) {
        Ok((rate, total, size)) => {
            actix_web::rt::spawn(async move {
                publish_loop(rate, total, size, &st, |_, p| {
                    let hub = hub.clone();
                    async move {
                        let _ = hub.publish(TOPIC, p).await;
                    }
                })
                .await;
            });
            HttpResponse::Ok().body("ok")
        }
        Err(e) => HttpResponse::BadRequest().body(e),
    }
}

async fn hub_fill(
    hub: web::Data<Channels>,
    st: web::Data<Stats>,
    req: HttpRequest,
) -> HttpResponse {
    let n = query_u64(req.query_string(), "n").unwrap_or(1).max(1);
    let size = query_u64(req.query_string(), "size").unwrap_or(32) as usize;
    let mut ids = Vec::new();
    for k in 1..=n {
        match hub.publish(TOPIC, payload(k, 0, size)).await {
            Ok(id) => {
                st.record();
                if k == 1 || k == n {
                    ids.push(id.to_string());
                }
            }
            Err(e) => return HttpResponse::InternalServerError().body(e.to_string()),
        }
    }
    if ids.len() == 1 {
        ids.push(ids[0].clone());
    }
    HttpResponse::Ok().body(ids.join(" "))
}

/// The hub every `hub` server uses: history for [`HISTORY_EVENTS`], a queue of [`QUEUE`].
pub fn bench_hub() -> Channels {
    Channels::builder()
        .history_events(HISTORY_EVENTS)
        .history_bytes(HISTORY_BYTES)
        .queue(QUEUE)
        .build()
}

/// Serves the hub contestant until killed.
pub fn hub(port: u16) -> std::io::Result<()> {
    let hub = web::Data::new(bench_hub());
    let st = web::Data::new(Stats::default());
    actix_serve(port, move |cfg| {
        cfg.app_data(hub.clone())
            .app_data(st.clone())
            .service(hub_sub)
            .service(bare)
            .route("/count", web::get().to(hub_count))
            .route("/run", web::get().to(hub_run))
            .route("/fill", web::get().to(hub_fill))
            .route("/stats", web::get().to(stats));
    })
}
