//! The channel measurements: fan-out, reconnect storm, history memory; and the table.

use std::{
    cell::{Cell, RefCell},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    rc::Rc,
    time::{Duration, Instant},
};

use super::{client::connect, payload_time, split_id, Contestant, TOPIC};
use crate::{
    client::{get_text, Error},
    driver::spawn_server,
    procfs,
    proto::now_ns,
};

/// Read size of every client connection.
const READ_BUF: usize = 16 * 1024;

/// Connections being opened at once (connect + response head); the rest wait their turn.
const CONNECTING: usize = 1024;

/// A channel server running as a child process; killed (by its PID) when dropped.
pub struct ChanServer {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ChanServer {
    /// Starts `exe server <contestant> 0` (see [`spawn_server`]).
    pub fn start(exe: &Path, c: Contestant, pin: bool) -> Result<ChanServer, Error> {
        let (child, addr) = spawn_server(exe, c.name(), pin)?;
        Ok(ChanServer {
            pid: child.id(),
            child,
            addr,
        })
    }

    async fn get(&self, path: &str) -> Result<String, Error> {
        get_text(self.addr, path).await
    }

    async fn count(&self) -> Result<usize, Error> {
        self.get("/count")
            .await?
            .trim()
            .parse()
            .map_err(|_| "/count: not a number".to_string())
    }
}

impl Drop for ChanServer {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Latencies in µs, log-linear buckets (64 per power of two: within 1.6 %).
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    n: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; 128 + 57 * 64],
            n: 0,
            max: 0,
        }
    }
}

impl Histogram {
    fn index(v: u64) -> usize {
        if v < 128 {
            return v as usize;
        }
        let e = 63 - v.leading_zeros() as usize; // >= 7
        128 + (e - 7) * 64 + ((v >> (e - 6)) & 63) as usize
    }

    fn value(i: usize) -> f64 {
        if i < 128 {
            return i as f64;
        }
        let (e, sub) = ((i - 128) / 64 + 7, (i - 128) % 64);
        let width = 1u64 << (e - 6);
        ((64 + sub as u64) * width) as f64 + width as f64 / 2.0
    }

    /// Records one value (µs).
    pub fn record(&mut self, us: u64) {
        self.counts[Self::index(us)] += 1;
        self.n += 1;
        self.max = self.max.max(us);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The `q` quantile (0..=1), µs.
    pub fn quantile(&self, q: f64) -> f64 {
        let rank = ((self.n as f64 * q).ceil() as u64).clamp(1, self.n.max(1));
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i).min(self.max as f64);
            }
        }
        self.max as f64
    }

    /// The largest value, µs.
    pub fn max(&self) -> u64 {
        self.max
    }
}

/// Errors of many connections: the first few are kept.
#[derive(Default)]
struct Crowd {
    opened: Cell<usize>,
    done: Cell<usize>,
    last_done_ns: Cell<u64>,
    deliveries: Cell<u64>,
    errors: RefCell<Vec<String>>,
    error_count: Cell<usize>,
    prefix: RefCell<Option<Vec<u8>>>,
}

impl Crowd {
    fn error(&self, e: String) {
        self.error_count.set(self.error_count.get() + 1);
        let mut errs = self.errors.borrow_mut();
        if errs.len() < 3 {
            errs.push(e);
        }
    }

    fn check(&self) -> Result<(), Error> {
        match self.errors.borrow().first() {
            Some(e) => Err(format!(
                "{} subscriber(s) failed, first: {e}",
                self.error_count.get()
            )),
            None => Ok(()),
        }
    }

    /// Whether `prefix` is the one every id of this run has (the first seen sets it).
    fn same_prefix(&self, prefix: &[u8]) -> bool {
        let mut p = self.prefix.borrow_mut();
        match &*p {
            Some(known) => known == prefix,
            None => {
                *p = Some(prefix.to_vec());
                true
            }
        }
    }

    async fn wait(
        &self,
        what: &str,
        cell: &Cell<usize>,
        n: usize,
        timeout: Duration,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        while cell.get() < n {
            self.check()?;
            if Instant::now() > deadline {
                return Err(format!("only {} of {n} {what} in {timeout:?}", cell.get()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.check()
    }
}

/// Opens `conns` subscribers on `/sub` (with `last_id`, at most [`CONNECTING`] at once),
/// each expecting exactly the events numbered `first..=last` (the number at the end of
/// the id), in order, with one id prefix for all. A subscriber closes once it has `last`.
/// Latencies (client read time − publish stamp, and − due time) go to `hist` if given.
fn subscribe_crowd(
    addr: SocketAddr,
    conns: usize,
    last_id: Option<String>,
    (first, last): (u64, u64),
    crowd: &Rc<Crowd>,
    hist: Option<Rc<RefCell<[Histogram; 2]>>>,
) -> tokio::task::JoinSet<()> {
    let sem = Rc::new(tokio::sync::Semaphore::new(CONNECTING));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..conns {
        let (sem, crowd, hist, last_id) =
            (sem.clone(), crowd.clone(), hist.clone(), last_id.clone());
        set.spawn_local(async move {
            let permit = sem.acquire().await;
            let mut conn = match connect(addr, "/sub", last_id.as_deref(), READ_BUF).await {
                Ok(c) => c,
                Err(e) => return crowd.error(e),
            };
            drop(permit);
            crowd.opened.set(crowd.opened.get() + 1);
            let mut next = first;
            let mut bad: Option<String> = None;
            loop {
                let mut now: Option<u64> = None;
                let r = conn
                    .read_events(&mut |id: &[u8], data: &[u8]| {
                        if bad.is_some() {
                            return;
                        }
                        let t = *now.get_or_insert_with(now_ns);
                        match split_id(id) {
                            Some((prefix, n)) if n == next && crowd.same_prefix(prefix) => {
                                next += 1;
                                // Borrowed within one poll of this task only.
                                if let Some(h) = &hist {
                                    match payload_time(data) {
                                        Some((sent, due)) => {
                                            let mut h = h.borrow_mut();
                                            h[0].record(t.saturating_sub(sent) / 1000);
                                            h[1].record(t.saturating_sub(due) / 1000);
                                        }
                                        None => bad = Some(format!("event {n}: no timestamp")),
                                    }
                                }
                            }
                            _ => {
                                bad = Some(format!(
                                    "expected event {next}, got id {:?}",
                                    String::from_utf8_lossy(id)
                                ))
                            }
                        }
                    })
                    .await;
                if let Some(e) = bad {
                    return crowd.error(e);
                }
                match r {
                    Ok(_) if next > last => {
                        crowd
                            .deliveries
                            .set(crowd.deliveries.get() + (last + 1 - first));
                        crowd
                            .last_done_ns
                            .set(crowd.last_done_ns.get().max(now_ns()));
                        crowd.done.set(crowd.done.get() + 1);
                        return;
                    }
                    Ok(true) => {}
                    Ok(false) => {
                        return crowd.error(format!("stream ended after {} events", next - first))
                    }
                    Err(e) => return crowd.error(e),
                }
            }
        });
    }
    set
}

/// Waits until the server counts `n` subscribers on the topic.
pub(crate) async fn wait_count(
    server: &ChanServer,
    n: usize,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    loop {
        let c = server.count().await?;
        if c == n {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("server counts {c} subscribers, {n} expected"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One fan-out run.
#[derive(Debug, Clone)]
pub struct FanoutRun {
    /// Subscribers.
    pub subs: usize,
    /// Events published.
    pub events: u64,
    /// Deliveries checked (subscribers × events).
    pub deliveries: u64,
    /// First publish → last delivery, s.
    pub span: f64,
    /// First → last publish, s.
    pub publish_span: f64,
    /// Publish-to-receive latency, µs.
    pub hist: Histogram,
    /// Due-to-receive latency (from when the schedule wanted the event published), µs.
    pub hist_due: Histogram,
    /// Server CPU (utime + stime) from `/run` to the last delivery, s.
    pub server_cpu: f64,
    /// The client's own CPU over the same time, s.
    pub client_cpu: f64,
    /// Server RSS growth per subscriber once subscribed (before any publish), KiB.
    pub kib_per_sub: f64,
    /// Server peak RSS (VmHWM) after the run, KiB.
    pub hwm_kib: u64,
}

impl FanoutRun {
    /// Deliveries per second over the whole run.
    pub fn delivered_per_sec(&self) -> f64 {
        self.deliveries as f64 / self.span
    }
}

/// Fan-out on a fresh server: `subs` subscribers, RSS per subscriber, then `rate` events/s
/// of `size` bytes for `secs` published inside the server; every subscriber must get
/// every event once, in order. `timeout` bounds the wait for the last delivery.
pub async fn fanout_run(
    server: &ChanServer,
    subs: usize,
    (rate, secs, size): (u64, u64, usize),
    timeout: Duration,
) -> Result<FanoutRun, Error> {
    let events = rate * secs;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = procfs::rss_kib(server.pid)?;
    let crowd = Rc::new(Crowd::default());
    let hist = Rc::new(RefCell::new([Histogram::default(), Histogram::default()]));
    let set = subscribe_crowd(
        server.addr,
        subs,
        None,
        (1, events),
        &crowd,
        Some(hist.clone()),
    );
    crowd
        .wait(
            "subscribers opened",
            &crowd.opened,
            subs,
            Duration::from_secs(120),
        )
        .await?;
    wait_count(server, subs, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = procfs::rss_kib(server.pid)?;
    let me = std::process::id();
    let (cpu0, ccpu0) = (procfs::cpu_secs(server.pid)?, procfs::cpu_secs(me)?);
    let reply = server
        .get(&format!("/run?rate={rate}&secs={secs}&size={size}"))
        .await?;
    if reply.trim() != "ok" {
        return Err(format!("/run: {reply}"));
    }
    crowd
        .wait(
            "subscribers got every event",
            &crowd.done,
            subs,
            Duration::from_secs(secs) + timeout,
        )
        .await?;
    let (cpu1, ccpu1) = (procfs::cpu_secs(server.pid)?, procfs::cpu_secs(me)?);
    drop(set);
    let stats = server.get("/stats").await?;
    let f: Vec<u64> = stats
        .split(' ')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let [published, first_ns, last_ns] = f[..] else {
        return Err(format!("/stats: {stats:?}"));
    };
    if published != events {
        return Err(format!("published {published} of {events}"));
    }
    let [hist, hist_due] = hist.borrow().clone();
    if hist.len() != events * subs as u64 || crowd.deliveries.get() != hist.len() {
        return Err(format!(
            "{} latencies for {} deliveries",
            hist.len(),
            events * subs as u64
        ));
    }
    Ok(FanoutRun {
        subs,
        events,
        deliveries: crowd.deliveries.get(),
        span: (crowd.last_done_ns.get() - first_ns) as f64 / 1e9,
        publish_span: (last_ns - first_ns) as f64 / 1e9,
        hist,
        hist_due,
        server_cpu: cpu1 - cpu0,
        client_cpu: ccpu1 - ccpu0,
        kib_per_sub: rss1.saturating_sub(rss0) as f64 / subs as f64,
        hwm_kib: procfs::hwm_kib(server.pid)?,
    })
}

/// RSS growth per stream (KiB) of `conns` idle `/bare` `#[sse]` streams on a fresh server.
pub async fn bare_run(server: &ChanServer, conns: usize) -> Result<f64, Error> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = procfs::rss_kib(server.pid)?;
    let crowd = Rc::new(Crowd::default());
    let sem = Rc::new(tokio::sync::Semaphore::new(CONNECTING));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..conns {
        let (sem, crowd, addr) = (sem.clone(), crowd.clone(), server.addr);
        set.spawn_local(async move {
            let permit = sem.acquire().await;
            let mut c =
                match crate::client::open(addr, None, "/bare", 1024, false, |_: &[u8]| {}).await {
                    Ok(c) => c,
                    Err(e) => return crowd.error(e),
                };
            drop(permit);
            crowd.opened.set(crowd.opened.get() + 1);
            loop {
                match c.read_some().await {
                    Ok(true) => {}
                    Ok(false) => return crowd.error("/bare ended".into()),
                    Err(e) => return crowd.error(e),
                }
            }
        });
    }
    crowd
        .wait(
            "bare streams opened",
            &crowd.opened,
            conns,
            Duration::from_secs(120),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    crowd.check()?;
    let rss1 = procfs::rss_kib(server.pid)?;
    drop(set);
    Ok(rss1.saturating_sub(rss0) as f64 / conns as f64)
}

/// One reconnect storm.
#[derive(Debug, Clone, Copy)]
pub struct StormRun {
    /// Clients.
    pub clients: usize,
    /// Events each missed (and got).
    pub behind: u64,
    /// First connect → last client done, s.
    pub secs: f64,
    /// Server RSS before the storm (history filled), KiB.
    pub rss0_kib: u64,
    /// Server peak RSS (VmHWM), KiB.
    pub hwm_kib: u64,
    /// Server CPU over the storm, s.
    pub server_cpu: f64,
}

/// Reconnect storm on a fresh server: publish `behind + 1` events of `size` bytes, then
/// `clients` clients connect at once with the id of the first one as `Last-Event-ID`;
/// each must get exactly the `behind` events after it, in order.
pub async fn storm_run(
    server: &ChanServer,
    clients: usize,
    behind: u64,
    size: usize,
    timeout: Duration,
) -> Result<StormRun, Error> {
    let ids = server
        .get(&format!("/fill?n={}&size={size}", behind + 1))
        .await?;
    let (first_id, last_id) = ids
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("/fill: {ids:?}"))?;
    let (Some((_, first)), Some((_, last))) =
        (split_id(first_id.as_bytes()), split_id(last_id.as_bytes()))
    else {
        return Err(format!("/fill: ids {ids:?}"));
    };
    if last - first != behind {
        return Err(format!("/fill: ids {ids:?} are not {behind} apart"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = procfs::rss_kib(server.pid)?;
    let cpu0 = procfs::cpu_secs(server.pid)?;
    let crowd = Rc::new(Crowd::default());
    let t0 = now_ns();
    let set = subscribe_crowd(
        server.addr,
        clients,
        Some(first_id.to_owned()),
        (first + 1, last),
        &crowd,
        None,
    );
    crowd
        .wait(
            "clients got their missed events",
            &crowd.done,
            clients,
            timeout,
        )
        .await?;
    let secs = (crowd.last_done_ns.get() - t0) as f64 / 1e9;
    let cpu1 = procfs::cpu_secs(server.pid)?;
    drop(set);
    if crowd.deliveries.get() != clients as u64 * behind {
        return Err(format!("{} deliveries", crowd.deliveries.get()));
    }
    Ok(StormRun {
        clients,
        behind,
        secs,
        rss0_kib: rss0,
        hwm_kib: procfs::hwm_kib(server.pid)?,
        server_cpu: cpu1 - cpu0,
    })
}

/// History memory, measured in a fresh process (see [`history_child`]).
#[derive(Debug, Clone, Copy)]
pub struct HistoryRun {
    /// Events published (and kept).
    pub events: u64,
    /// Topics they were spread over.
    pub topics: usize,
    /// Sum of the encoded frames' bytes.
    pub frame_bytes: u64,
    /// RSS growth, KiB.
    pub rss_kib: u64,
}

impl HistoryRun {
    /// RSS growth / bytes stored.
    pub fn ratio(&self) -> f64 {
        self.rss_kib as f64 * 1024.0 / self.frame_bytes as f64
    }
}

/// In this process: `events` events of `size` bytes published round-robin over `topics`
/// topics, RSS before and after. Prints `<events> <topics> <frame bytes> <rss KiB>`.
///
/// With `rounds` 1 the hub keeps everything (its bound is above what is published): the
/// history as it grows. With more, each topic keeps `events / topics` and `rounds × events`
/// are published: the history full and trimming, as it runs for most of its life; the
/// bytes stored are then those of the last `events`.
pub fn history_child(events: u64, topics: usize, size: usize, rounds: u64) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = (0..topics).map(|i| format!("topic-{i}")).collect();
    let data = "x".repeat(size);
    let me = std::process::id();
    let hub = actix_sse::Channels::builder()
        .history_events(if rounds > 1 {
            events as usize / topics
        } else {
            events as usize
        })
        .history_bytes(usize::MAX / 2)
        .build();
    // Warm up allocator and runtime on another hub, so they are not counted.
    rt.block_on(async {
        let warm = actix_sse::Channels::new();
        for name in &names {
            let _ = warm.publish(name, data.as_str()).await;
        }
    });
    let rss0 = procfs::rss_kib(me)?;
    let mut frame_bytes = 0u64;
    let mut first_id = None;
    rt.block_on(async {
        let kept = (rounds.max(1) - 1) * events;
        for i in 0..rounds.max(1) * events {
            let id = hub
                .publish(&names[i as usize % topics], data.as_str())
                .await
                .map_err(|e| e.to_string())?;
            if i >= kept {
                first_id.get_or_insert(id);
                // `id: <id>\ndata: <data>\n\n`
                frame_bytes += (4 + id.to_string().len() + 1 + 6 + size + 2) as u64;
            }
        }
        Ok::<(), Error>(())
    })?;
    let rss1 = procfs::rss_kib(me)?;
    if hub.topic_count() != topics {
        return Err(format!("{} topics", hub.topic_count()));
    }
    // Everything kept must still be there: resuming after the first kept event of topic 0
    // replays the rest of that topic, no reset.
    let first_id = first_id.ok_or("nothing published")?.to_string();
    let rest = (events as usize).div_ceil(topics) - 1;
    let replayed = rt.block_on(async {
        let mut sub = hub.subscribe(&names[0], &first_id).await;
        let mut n = 0;
        for _ in 0..rest {
            match sub.next().await {
                Some(ev) if !ev.is_reset() => n += 1,
                _ => break,
            }
        }
        n
    });
    if replayed != rest {
        return Err(format!(
            "history check: {replayed} of {rest} events replayed"
        ));
    }
    println!(
        "{events} {topics} {frame_bytes} {}",
        rss1.saturating_sub(rss0)
    );
    drop(hub);
    Ok(())
}

/// Runs `exe history-child ..` and reads its line.
pub fn history_run(
    exe: &Path,
    events: u64,
    topics: usize,
    size: usize,
    rounds: u64,
) -> Result<HistoryRun, Error> {
    let out = Command::new(exe)
        .args([
            "history-child",
            &events.to_string(),
            &topics.to_string(),
            &size.to_string(),
            &rounds.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("history-child: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<u64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match f[..] {
        [events, topics, frame_bytes, rss_kib] if out.status.success() => Ok(HistoryRun {
            events,
            topics: topics as usize,
            frame_bytes,
            rss_kib,
        }),
        _ => Err(format!("history-child failed: {text:?}")),
    }
}

/// What `channels all` runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The binary to start servers from (`<exe> server <contestant> 0`).
    pub exe: PathBuf,
    /// Contestants, raw first.
    pub contestants: Vec<Contestant>,
    /// Fan-out forms: (subscribers, events per second, seconds).
    pub fanout: Vec<(usize, u64, u64)>,
    /// Fan-out payload bytes.
    pub size: usize,
    /// Storm clients.
    pub clients: usize,
    /// Events each storm client missed.
    pub behind: u64,
    /// Storm payload bytes.
    pub storm_size: usize,
    /// History-memory events, topics and payload bytes.
    pub history: (u64, usize, usize),
    /// How long to wait for the last delivery after publishing ends.
    pub drain_timeout: Duration,
    /// Pin servers to CPU 0 (the client pins itself to CPU 1).
    pub pin: bool,
}

impl Config {
    /// The full form: 10,000 subscribers × 1,000 events/s × 10 s (the issue's, far more
    /// than one client core reads) and × 10 events/s (below saturation), a storm of 10,000
    /// clients 1,000 events behind, 100,000 events of 200 B in 100 topics.
    pub fn full(exe: PathBuf) -> Self {
        Self {
            exe,
            contestants: Contestant::ALL.to_vec(),
            fanout: vec![(10_000, 1_000, 10), (10_000, 10, 10)],
            size: 64,
            clients: 10_000,
            behind: 1_000,
            storm_size: 32,
            history: (100_000, 100, 200),
            drain_timeout: Duration::from_secs(300),
            pin: false,
        }
    }

    /// The smoke form: 200 subscribers × 200 events/s × 2 s, a storm of 200 clients 100
    /// events behind, 10,000 history events.
    pub fn quick(exe: PathBuf) -> Self {
        Self {
            fanout: vec![(200, 200, 2)],
            clients: 200,
            behind: 100,
            history: (10_000, 100, 200),
            drain_timeout: Duration::from_secs(60),
            ..Self::full(exe)
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which measurement.
    pub measure: String,
    /// Which contestant (`None`: not per contestant).
    pub contestant: Option<Contestant>,
    /// The value (`None`: failed or not measurable, see `note`).
    pub value: Option<f64>,
    /// Its unit.
    pub unit: &'static str,
    /// Extra figures, or why there is no value.
    pub note: String,
    /// Whether the contestant failed (a check, not a target).
    pub failed: bool,
}

fn row(measure: &str, c: Option<Contestant>, value: f64, unit: &'static str, note: String) -> Row {
    Row {
        measure: measure.into(),
        contestant: c,
        value: Some(value),
        unit,
        note,
        failed: false,
    }
}

fn failed(measure: &str, c: Contestant, e: String) -> Row {
    eprintln!("  {c}: FAILED: {e}");
    Row {
        measure: measure.into(),
        contestant: Some(c),
        value: None,
        unit: "",
        note: e,
        failed: true,
    }
}

fn fmt_num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The fan-out rows of every contestant for one form (subscribers, rate, seconds).
fn fanout_form(cfg: &Config, (subs, rate, secs): (usize, u64, u64)) -> Vec<Row> {
    let mut rows = Vec::new();
    let m = |s: &str| format!("fan-out {s} ({subs} subs × {rate} ev/s × {secs} s)");
    for &c in &cfg.contestants {
        eprintln!("fan-out: {c}");
        let t = Instant::now();
        let r = ChanServer::start(&cfg.exe, c, cfg.pin).and_then(|server| {
            crate::driver::block_on(fanout_run(
                &server,
                subs,
                (rate, secs, cfg.size),
                cfg.drain_timeout,
            ))
        });
        eprintln!("  {:.1} s", t.elapsed().as_secs_f64());
        match r {
            Ok(r) => {
                let offered = (subs as u64 * rate) as f64;
                rows.push(row(
                    &m("delivered"),
                    Some(c),
                    r.delivered_per_sec() / 1e6,
                    "M ev/s",
                    format!(
                        "{} deliveries in {:.1} s (offered {} M/s; publishing took {:.1} s); all exact",
                        r.deliveries,
                        r.span,
                        fmt_num(offered / 1e6),
                        r.publish_span
                    ),
                ));
                rows.push(row(
                    &m("p99"),
                    Some(c),
                    r.hist.quantile(0.99) / 1e3,
                    "ms",
                    format!(
                        "publish stamp → client read; p50 {} ms, max {} ms",
                        fmt_num(r.hist.quantile(0.5) / 1e3),
                        fmt_num(r.hist.max() as f64 / 1e3),
                    ),
                ));
                rows.push(row(
                    &m("due-time p99"),
                    Some(c),
                    r.hist_due.quantile(0.99) / 1e3,
                    "ms",
                    format!(
                        "from when the schedule wanted the event out (counts a late \
                         publisher, which the publish stamp hides); p50 {} ms",
                        fmt_num(r.hist_due.quantile(0.5) / 1e3)
                    ),
                ));
                rows.push(row(
                    &m("server CPU"),
                    Some(c),
                    r.server_cpu,
                    "s",
                    format!(
                        "{:.0} % of one core over {:.1} s, {:.2} µs/delivery; client CPU {:.1} s",
                        r.server_cpu / r.span * 100.0,
                        r.span,
                        r.server_cpu * 1e6 / r.deliveries as f64,
                        r.client_cpu
                    ),
                ));
                rows.push(row(
                    &m("RSS/subscriber"),
                    Some(c),
                    r.kib_per_sub,
                    "KiB",
                    format!(
                        "subscribed, before publishing; peak RSS after the run {:.0} MiB",
                        r.hwm_kib as f64 / 1024.0
                    ),
                ));
            }
            Err(e) => rows.push(failed(&m("delivered"), c, e)),
        }
    }
    rows
}

/// The fan-out rows of every contestant, for every form, plus the bare-stream baseline.
pub fn fanout(cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    for &form in &cfg.fanout {
        rows.extend(fanout_form(cfg, form));
    }
    let subs = cfg.fanout.iter().map(|f| f.0).max().unwrap_or(1);
    // The bare-stream baseline: an idle `#[sse]` stream on the hub's server.
    eprintln!("bare #[sse] streams");
    let measure = format!("bare #[sse] stream RSS ({subs} streams)");
    let r = ChanServer::start(&cfg.exe, Contestant::Hub, cfg.pin)
        .and_then(|server| crate::driver::block_on(bare_run(&server, subs)));
    rows.push(match r {
        Ok(kib) => row(
            &measure,
            None,
            kib,
            "KiB",
            "idle `#[sse]` push handler (`pending().await`), hub server".into(),
        ),
        Err(e) => failed(&measure, Contestant::Hub, e),
    });
    rows
}

/// The storm rows of every contestant (the relay has no history: not measurable).
pub fn storm(cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    let m = |s: &str| {
        format!(
            "storm {s} ({} clients × {} missed, {} B)",
            cfg.clients, cfg.behind, cfg.storm_size
        )
    };
    for &c in &cfg.contestants {
        if !c.has_history() {
            rows.push(Row {
                measure: m("time to finish"),
                contestant: Some(c),
                value: None,
                unit: "",
                note: "not measurable: a broadcast relay keeps no history, a reconnecting \
                       client gets only live events"
                    .into(),
                failed: false,
            });
            continue;
        }
        eprintln!("storm: {c}");
        let r = ChanServer::start(&cfg.exe, c, cfg.pin).and_then(|server| {
            crate::driver::block_on(storm_run(
                &server,
                cfg.clients,
                cfg.behind,
                cfg.storm_size,
                cfg.drain_timeout,
            ))
        });
        match r {
            Ok(r) => {
                rows.push(row(
                    &m("time to finish"),
                    Some(c),
                    r.secs,
                    "s",
                    format!(
                        "{:.2} M events/s replayed, server CPU {:.1} s; all exact",
                        (r.clients as u64 * r.behind) as f64 / r.secs / 1e6,
                        r.server_cpu
                    ),
                ));
                rows.push(row(
                    &m("peak RSS"),
                    Some(c),
                    r.hwm_kib as f64 / 1024.0,
                    "MiB",
                    format!(
                        "VmHWM; {:.1} MiB before the storm, {:.1} KiB per client over it",
                        r.rss0_kib as f64 / 1024.0,
                        r.hwm_kib.saturating_sub(r.rss0_kib) as f64 / r.clients as f64
                    ),
                ));
            }
            Err(e) => rows.push(failed(&m("time to finish"), c, e)),
        }
    }
    rows
}

/// How many times over the steady-state history row publishes what its topics keep.
const STEADY_ROUNDS: u64 = 4;

/// The history-memory rows (hub only, each in a fresh process): growing, then full and
/// trimming.
pub fn history(cfg: &Config) -> Vec<Row> {
    let (events, topics, size) = cfg.history;
    eprintln!("history memory");
    [(1, "growing"), (STEADY_ROUNDS, "full, trimming")]
        .into_iter()
        .map(|(rounds, state)| {
            let measure = format!(
                "history RSS / bytes stored, {state} ({events} × {size} B, {topics} topics)"
            );
            history_row(cfg, measure, rounds)
        })
        .collect()
}

fn history_row(cfg: &Config, measure: String, rounds: u64) -> Row {
    let (events, topics, size) = cfg.history;
    match history_run(&cfg.exe, events, topics, size, rounds) {
        Ok(h) => row(
            &measure,
            Some(Contestant::Hub),
            h.ratio(),
            "×",
            format!(
                "RSS +{:.1} MiB for {:.1} MiB of frames ({:.0} B per event over the frame)",
                h.rss_kib as f64 / 1024.0,
                h.frame_bytes as f64 / 1048576.0,
                (h.rss_kib as f64 * 1024.0 - h.frame_bytes as f64) / h.events as f64
            ),
        ),
        Err(e) => failed(&measure, Contestant::Hub, e),
    }
}

/// Prints the table: measure, contestant, value, ratio to raw's value of the same
/// measure, notes.
pub fn print_table(rows: &[Row]) {
    println!("| measure | contestant | value | × raw | notes |\n|---|---|---:|---:|---|");
    for r in rows {
        let raw = rows
            .iter()
            .find(|x| x.measure == r.measure && x.contestant == Some(Contestant::Raw))
            .and_then(|x| x.value);
        let who = r.contestant.map_or("-", Contestant::name);
        match r.value {
            Some(v) => {
                let ratio = raw
                    .filter(|x| *x != 0.0)
                    .map_or("-".into(), |x| format!("{:.2}", v / x));
                println!(
                    "| {} | {who} | {} {} | {ratio} | {} |",
                    r.measure,
                    fmt_num(v),
                    r.unit,
                    r.note
                );
            }
            None => println!(
                "| {} | {who} | {} | | {} |",
                r.measure,
                if r.failed { "FAILED" } else { "n/a" },
                r.note
            ),
        }
    }
}

/// Prints the targets for the hub, one line each. Returns the misses.
pub fn print_targets(rows: &[Row]) -> usize {
    let get = |prefix: &str, c: Option<Contestant>| {
        rows.iter()
            .find(|r| r.measure.starts_with(prefix) && r.contestant == c)
            .and_then(|r| r.value)
    };
    let hub = Some(Contestant::Hub);
    let mut missed = 0;
    let mut check = |name: &str, v: Option<f64>, limit: f64, detail: &dyn Fn(f64) -> String| {
        let verdict = match v {
            Some(x) if x <= limit => "met",
            Some(_) => {
                missed += 1;
                "MISSED"
            }
            None => "not measured",
        };
        println!("- {name}: {verdict} ({})", v.map_or("-".into(), detail));
    };
    let mut forms: Vec<&str> = rows
        .iter()
        .filter(|r| r.measure.starts_with("fan-out delivered"))
        .map(|r| r.measure.trim_start_matches("fan-out delivered"))
        .collect();
    forms.dedup();
    for form in forms {
        for what in ["p99", "due-time p99"] {
            let p99 = |c| get(&format!("fan-out {what}{form}"), Some(c));
            check(
                &format!("fan-out {what}{form}: hub ≤ 1.5× raw"),
                p99(Contestant::Hub)
                    .zip(p99(Contestant::Raw))
                    .map(|(h, r)| h / r),
                1.5,
                &|x| format!("{x:.2}×"),
            );
        }
    }
    let over = get("fan-out RSS", hub).zip(get("bare", None));
    check(
        "RSS per subscriber: hub ≤ bare #[sse] stream + 1 KiB",
        over.map(|(h, b)| h - b),
        1.0,
        &|x| format!("{x:+.2} KiB"),
    );
    for state in ["growing", "full, trimming"] {
        check(
            &format!("history memory, {state}: ≤ 1.2× the bytes it stores"),
            get(&format!("history RSS / bytes stored, {state}"), hub),
            1.2,
            &|x| format!("{x:.2}×"),
        );
    }
    missed
}

/// Runs the measurements named in `what` (`all`, `fanout`, `storm`, `history`), prints the
/// table and the targets. Returns false if a contestant failed a check.
pub fn run_all(cfg: &Config, what: &str) -> bool {
    let t0 = Instant::now();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut rows = Vec::new();
    if what == "all" || what == "fanout" {
        rows.extend(fanout(cfg));
    }
    if what == "all" || what == "storm" {
        rows.extend(storm(cfg));
    }
    if what == "all" || what == "history" {
        rows.extend(history(cfg));
    }
    println!();
    print_table(&rows);
    println!();
    print_targets(&rows);
    println!(
        "\nservers {}; loadavg before {}, after {}; total {:.0} s (topic {TOPIC:?})",
        if cfg.pin {
            "pinned to CPU 0, client to CPU 1"
        } else {
            "not pinned"
        },
        load.split(' ').take(3).collect::<Vec<_>>().join(" "),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        t0.elapsed().as_secs_f64()
    );
    rows.iter().all(|r| !r.failed)
}
