//! Runs the measurements against contestant servers started as child processes, and
//! prints the table.

use std::{
    cell::{Cell, RefCell},
    future::Future,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    rc::Rc,
    time::{Duration, Instant},
};

use crate::{
    client::{get_text, open, spread_source, Error},
    procfs,
    proto::{frame, now_ns, parse_fanout},
    servers::Contestant,
};

/// The CPU the servers are pinned to (with `taskset`): 0, or `BENCH_SERVER_CPU` (to see
/// whether one vCPU is slower than the other); the client takes the other of the first two.
pub fn server_cpu() -> usize {
    std::env::var("BENCH_SERVER_CPU")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&cpu| cpu <= 1)
        .unwrap_or(0)
}

/// A contestant server running as a child process; killed (by PID) when dropped.
pub struct Server {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Which contestant it is.
    pub contestant: Contestant,
}

/// How the servers and the client were placed, for a table's last line.
pub fn pinning(pin: bool) -> String {
    if pin {
        let cpu = server_cpu();
        format!("pinned to CPU {cpu}, client to CPU {}", 1 - cpu)
    } else {
        "not pinned".to_owned()
    }
}

/// Starts `exe server <name> 0`, pinned to CPU 0 (see [`server_cpu`]) with `taskset` if `pin`, and waits (at
/// most 30 s) for its `port N` line. The child is killed if that fails.
pub fn spawn_server(exe: &Path, name: &str, pin: bool) -> Result<(Child, SocketAddr), Error> {
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(server_cpu().to_string()).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(["server", name, "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start {name} server: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let port = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| format!("{name} server printed no port within 30 s"))
        .and_then(|line| {
            line.trim()
                .strip_prefix("port ")
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or_else(|| format!("{name} server printed {line:?}, not `port N`"))
        });
    match port {
        Ok(port) => Ok((child, SocketAddr::from(([127, 0, 0, 1], port)))),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

impl Server {
    /// Starts `exe server <contestant> 0` (see [`spawn_server`]).
    pub fn start(exe: &Path, contestant: Contestant, pin: bool) -> Result<Server, Error> {
        let (child, addr) = spawn_server(exe, contestant.name(), pin)?;
        Ok(Server {
            pid: child.id(),
            child,
            addr,
            contestant,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises the soft open-files limit to the hard limit; returns the soft limit now in
/// force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to fill and then to pass back.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim = want;
            }
        }
    }
    lim.rlim_cur
}

/// Pins this process (the client) to CPU 1 when there are two CPUs and `taskset` exists
/// for the servers. Returns whether servers should be pinned.
pub fn pin_client() -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if cpus < 2 || !taskset {
        return false;
    }
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity get valid pointers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(1 - server_cpu(), &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Runs `fut` on a current-thread runtime with a `LocalSet` (the client is one thread).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    tokio::task::LocalSet::new().block_on(&rt, fut)
}

/// One `/stream` run.
#[derive(Debug, Clone, Copy)]
pub struct StreamRun {
    /// Events received (checked equal to the number asked for).
    pub events: u64,
    /// From connect to the end of the body.
    pub elapsed: Duration,
    /// From connect to the first event.
    pub first_event: Duration,
    /// The server's CPU time over the run (all its threads, schedstat), s.
    pub server_cpu: f64,
    /// The client's CPU time over the run (its one thread), s.
    pub client_cpu: f64,
}

impl StreamRun {
    /// Events per second.
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// Reads `/stream?n=..&size=..` to its end and checks that exactly `n` events of exactly
/// `size` bytes of `x` arrived; with `ids` (`&ids=1`), that every event carried the id
/// `0`, `1`, … `n - 1`, in order. Also measures the CPU time the server (`pid`) and this
/// client spent on the run.
pub async fn stream_once(
    addr: SocketAddr,
    pid: u32,
    n: u64,
    size: usize,
    ids: bool,
) -> Result<StreamRun, Error> {
    let server0 = procfs::cpu_ns(pid)?;
    let client0 = procfs::thread_cpu_secs();
    let t0 = Instant::now();
    let bad = Cell::new(0u64);
    let expected = vec![b'x'; size];
    let on_event = |d: &[u8]| {
        if d != expected.as_slice() {
            bad.set(bad.get() + 1);
        }
    };
    let mut conn = open(
        addr,
        None,
        &format!("/stream?n={n}&size={size}&ids={}", u8::from(ids)),
        256 * 1024,
        ids,
        on_event,
    )
    .await?;
    conn.read_to_end(Duration::from_secs(120)).await?;
    let elapsed = t0.elapsed();
    let client_cpu = procfs::thread_cpu_secs() - client0;
    let server_cpu = procfs::cpu_ns(pid)?.saturating_sub(server0) as f64 / 1e9;
    let events = conn.parser.events;
    let first = conn.parser.first_event.map_or(elapsed, |t| t - t0);
    let wire = conn.body_bytes;
    let bad_ids = conn.parser.bad_ids;
    drop(conn);
    if events != n || bad.get() != 0 || bad_ids != 0 {
        return Err(format!(
            "/stream: expected {n} events of {size} B, got {events} ({} wrong, {bad_ids} with a wrong id)",
            bad.get()
        ));
    }
    let expect_bytes = n * frame(&"x".repeat(size)).len() as u64;
    if wire < expect_bytes {
        return Err(format!(
            "/stream: {wire} body bytes, at least {expect_bytes} expected"
        ));
    }
    Ok(StreamRun {
        events,
        elapsed,
        first_event: first,
        server_cpu,
        client_cpu,
    })
}

/// Shared state of many concurrent SSE connections.
#[derive(Default)]
pub(crate) struct Crowd {
    /// Connections that have their response head.
    pub(crate) opened: Cell<usize>,
    /// Comment lines (heartbeats) received on all of them.
    pub(crate) comments: Cell<u64>,
    errors: RefCell<Vec<String>>,
}

impl Crowd {
    fn error(&self, e: String) {
        let mut errs = self.errors.borrow_mut();
        if errs.len() < 5 {
            errs.push(e);
        }
    }

    /// The first connection error, if any.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match self.errors.borrow().first() {
            Some(e) => Err(format!(
                "{} connection error(s), first: {e}",
                self.errors.borrow().len()
            )),
            None => Ok(()),
        }
    }

    /// Waits until `n` connections have their response head, at most `timeout`.
    async fn wait_opened(&self, n: usize, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        while self.opened.get() < n {
            self.check()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "only {} of {n} connections opened in {timeout:?}",
                    self.opened.get()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

/// Opens `conns` streams on `path` (at most 256 connecting at once) that keep reading;
/// each event's data goes to `on_event(index, data)`. With `sources` > 0 the connections
/// come from that many loopback addresses in turn ([`spread_source`]), else from the
/// kernel's choice. Returns the tasks (dropping them closes every connection) once all
/// have their response head.
pub(crate) async fn open_crowd(
    addr: SocketAddr,
    path: &str,
    conns: usize,
    sources: u8,
    crowd: &Rc<Crowd>,
    on_event: impl Fn(usize) -> Box<dyn FnMut(&[u8])>,
) -> Result<tokio::task::JoinSet<()>, Error> {
    let sem = Rc::new(tokio::sync::Semaphore::new(256));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..conns {
        let sem = sem.clone();
        let crowd = crowd.clone();
        let path = path.to_owned();
        let f = on_event(i);
        let source = (sources > 0).then(|| spread_source(sources));
        set.spawn_local(async move {
            let permit = sem.acquire().await;
            let mut c = match open(addr, source, &path, 4096, false, f).await {
                Ok(c) => c,
                Err(e) => return crowd.error(e),
            };
            drop(permit);
            crowd.opened.set(crowd.opened.get() + 1);
            let mut seen = c.parser.comments;
            crowd.comments.set(crowd.comments.get() + seen);
            loop {
                match c.read_some().await {
                    Ok(true) => {
                        let now = c.parser.comments;
                        crowd.comments.set(crowd.comments.get() + now - seen);
                        seen = now;
                    }
                    Ok(false) => return crowd.error(format!("{path}: stream ended")),
                    Err(e) => return crowd.error(e),
                }
            }
        });
    }
    crowd
        .wait_opened(conns, Duration::from_secs(120))
        .await
        .map(|()| set)
}

/// Idle streams and heartbeat CPU, from one server.
#[derive(Debug, Clone, Copy)]
pub struct IdleRun {
    /// Connections held.
    pub conns: usize,
    /// Server RSS growth per connection, KiB: over the second half of the connections
    /// (what one more stream costs).
    pub kib_per_conn: f64,
    /// The same over all of them, from the freshly started server (with its one-time
    /// growth).
    pub kib_per_conn_fresh: f64,
    /// Server CPU (utime + stime from `/proc/PID/stat`) per heartbeat delivered, µs.
    pub cpu_us_per_hb: f64,
    /// The same from `/proc/PID/task/*/schedstat` (ns resolution), if available.
    pub sched_us_per_hb: Option<f64>,
    /// Heartbeats the client received in the window.
    pub heartbeats: u64,
}

/// On a freshly started server: RSS before, half of `conns` idle streams heartbeating
/// every `hb`, RSS after `settle`, the other half, RSS after `settle`; then server CPU and
/// heartbeats received over `window`.
/// `query`: more of `/idle`'s query (`fn=1`: ours' `Sse::from_fn` rather than `#[sse]`).
pub async fn idle_run(
    server: &Server,
    conns: usize,
    hb: Duration,
    settle: Duration,
    window: Duration,
    query: &str,
) -> Result<IdleRun, Error> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = procfs::rss_kib(server.pid)?;
    let crowd = Rc::new(Crowd::default());
    let path = format!("/idle?hb_ms={}{query}", hb.as_millis());
    // In two halves: the second half's growth is what one more stream costs, without the
    // server's one-time growth (its pools of request heads fill while requests are in
    // flight, its runtime's timer levels), which the first half also pays.
    let half = conns / 2;
    let first = open_crowd(server.addr, &path, half, 0, &crowd, |_| Box::new(|_| {})).await?;
    tokio::time::sleep(settle).await;
    crowd.check()?;
    let rss_half = procfs::rss_kib(server.pid)?;
    let set = open_crowd(server.addr, &path, conns - half, 0, &crowd, |_| {
        Box::new(|_| {})
    })
    .await?;
    crowd.wait_opened(conns, Duration::from_secs(120)).await?;
    tokio::time::sleep(settle).await;
    crowd.check()?;
    let rss1 = procfs::rss_kib(server.pid)?;
    let cpu0 = procfs::cpu_secs(server.pid)?;
    let sched0 = procfs::sched_ns(server.pid);
    let hb0 = crowd.comments.get();
    tokio::time::sleep(window).await;
    let cpu1 = procfs::cpu_secs(server.pid)?;
    let sched1 = procfs::sched_ns(server.pid);
    let hb1 = crowd.comments.get();
    crowd.check()?;
    drop((first, set));
    let heartbeats = hb1 - hb0;
    let expected = conns as f64 * window.as_secs_f64() / hb.as_secs_f64();
    if (heartbeats as f64) < 0.8 * expected {
        return Err(format!(
            "/idle: {heartbeats} heartbeats in {window:?} on {conns} streams, ~{expected:.0} expected"
        ));
    }
    Ok(IdleRun {
        conns,
        kib_per_conn: rss1.saturating_sub(rss_half) as f64 / (conns - half) as f64,
        kib_per_conn_fresh: rss1.saturating_sub(rss0) as f64 / conns as f64,
        cpu_us_per_hb: (cpu1 - cpu0) * 1e6 / heartbeats as f64,
        sched_us_per_hb: sched0
            .zip(sched1)
            .map(|(a, b)| b.saturating_sub(a) as f64 / 1e3 / heartbeats as f64),
        heartbeats,
    })
}

/// Fan-out latency of one round, µs.
#[derive(Debug, Clone, Copy)]
pub struct FanoutRound {
    /// Median delivery latency.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Maximum.
    pub max_us: f64,
    /// Deliveries measured (subscribers × messages).
    pub samples: usize,
    /// Server CPU per message, µs: from just before the publish request to the moment
    /// every subscriber had the message (schedstat, else utime + stime); the mean over
    /// the round's messages.
    pub cpu_us: f64,
    /// The server's RSS growth from before the subscribers connected to when they all
    /// had the first round, per subscriber, KiB.
    pub kib_per_sub: f64,
}

/// Where a fan-out run subscribes and publishes.
#[derive(Debug, Clone, Copy)]
pub struct FanoutPaths<'a> {
    /// The subscription stream (`/fanout`).
    pub sub: &'a str,
    /// The publish request, answering the number of subscribers reached (`/publish`).
    pub publish: &'a str,
    /// Spread the subscribers over this many loopback source addresses (0: don't).
    pub sources: u8,
}

impl FanoutPaths<'_> {
    /// Every contestant's `/fanout` and `/publish`, from the kernel's source address.
    pub const BROADCAST: FanoutPaths<'static> = FanoutPaths {
        sub: "/fanout",
        publish: "/publish",
        sources: 0,
    };
}

/// `subscribers` streams on `/fanout`; then `rounds` rounds of `msgs` messages published
/// (one at a time: the next once every subscriber has the previous, then `gap`). Checks
/// that every subscriber gets every message, in order.
pub async fn fanout_run(
    server: &Server,
    subscribers: usize,
    rounds: usize,
    msgs: usize,
    gap: Duration,
) -> Result<Vec<FanoutRound>, Error> {
    fanout_run_at(
        server,
        FanoutPaths::BROADCAST,
        subscribers,
        rounds,
        msgs,
        gap,
    )
    .await
}

/// [`fanout_run`] on other paths (see [`FanoutPaths`]).
pub async fn fanout_run_at(
    server: &Server,
    paths: FanoutPaths<'_>,
    subscribers: usize,
    rounds: usize,
    msgs: usize,
    gap: Duration,
) -> Result<Vec<FanoutRound>, Error> {
    let total = rounds * msgs;
    let counts = Rc::new(RefCell::new(vec![0usize; total]));
    let lat = Rc::new(RefCell::new(Vec::with_capacity(subscribers * total)));
    let wrong = Rc::new(Cell::new(0u64));
    let crowd = Rc::new(Crowd::default());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = procfs::rss_kib(server.pid)?;
    let set = open_crowd(
        server.addr,
        paths.sub,
        subscribers,
        paths.sources,
        &crowd,
        |_| {
            let (counts, lat, wrong) = (counts.clone(), lat.clone(), wrong.clone());
            let mut next = 0u64;
            Box::new(move |d: &[u8]| {
                let now = now_ns();
                match parse_fanout(d) {
                    Some((seq, t)) if seq == next && (seq as usize) < total => {
                        next += 1;
                        counts.borrow_mut()[seq as usize] += 1;
                        lat.borrow_mut().push(now.saturating_sub(t));
                    }
                    _ => wrong.set(wrong.get() + 1),
                }
            })
        },
    )
    .await?;
    let mut out = Vec::new();
    let mut rss1 = None;
    for r in 0..rounds {
        let start = lat.borrow().len();
        let mut cpu_ns = 0;
        for m in 0..msgs {
            let seq = r * msgs + m;
            let cpu0 = procfs::cpu_ns(server.pid)?;
            let reached: usize = get_text(server.addr, paths.publish)
                .await?
                .trim()
                .parse()
                .map_err(|_| format!("{}: not a number", paths.publish))?;
            if reached != subscribers {
                return Err(format!("/publish reached {reached} of {subscribers}"));
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while counts.borrow()[seq] < subscribers {
                crowd.check()?;
                if wrong.get() > 0 {
                    return Err(format!("{} fan-out events out of order", wrong.get()));
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "message {seq}: {} of {subscribers} deliveries in 20 s",
                        counts.borrow()[seq]
                    ));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            cpu_ns += procfs::cpu_ns(server.pid)?.saturating_sub(cpu0);
            tokio::time::sleep(gap).await;
        }
        let rss1 = *rss1.get_or_insert(procfs::rss_kib(server.pid)?);
        let mut l: Vec<u64> = lat.borrow()[start..].to_vec();
        l.sort_unstable();
        let pct = |p: f64| l[((l.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
        out.push(FanoutRound {
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            max_us: pct(1.0),
            samples: l.len(),
            cpu_us: cpu_ns as f64 / 1e3 / msgs.max(1) as f64,
            kib_per_sub: rss1.saturating_sub(rss0) as f64 / subscribers.max(1) as f64,
        });
    }
    drop(set);
    if wrong.get() > 0 {
        return Err(format!("{} fan-out events out of order", wrong.get()));
    }
    Ok(out)
}

/// Slow clients against `/slow`.
#[derive(Debug, Clone, Copy)]
pub struct SlowRun {
    /// Slow clients.
    pub clients: usize,
    /// Server RSS before, KiB.
    pub rss0_kib: u64,
    /// Peak server RSS (VmHWM) over the run, KiB.
    pub peak_kib: u64,
}

/// `clients` streams on `/slow?secs=..`, each reading one event's worth of bytes per
/// second for `secs` seconds, while the handler produces 10,000 events/s. Reports the
/// server's peak RSS.
pub async fn slow_run(server: &Server, clients: usize, secs: u64) -> Result<SlowRun, Error> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss0 = procfs::rss_kib(server.pid)?;
    let event_len = frame(&"x".repeat(64)).len();
    let crowd = Rc::new(Crowd::default());
    let read_events = Rc::new(Cell::new(0u64));
    let mut set = tokio::task::JoinSet::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    let addr = server.addr;
    for _ in 0..clients {
        let crowd = crowd.clone();
        let read_events = read_events.clone();
        set.spawn_local(async move {
            let path = format!("/slow?secs={secs}&size=64");
            let mut c = match open(addr, None, &path, 4096, false, |_| {}).await {
                Ok(c) => c,
                Err(e) => return crowd.error(e),
            };
            crowd.opened.set(crowd.opened.get() + 1);
            let mut next = tokio::time::Instant::now();
            while next < end {
                next += Duration::from_secs(1);
                if let Err(e) = c.read_at_most(event_len).await {
                    return crowd.error(e);
                }
                tokio::time::sleep_until(next).await;
            }
            read_events.set(read_events.get() + c.parser.events);
        });
    }
    let mut peak = 0;
    while tokio::time::Instant::now() < end {
        peak = peak.max(procfs::rss_kib(server.pid)?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !set.is_empty() && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), set.join_next()).await;
    }
    peak = peak.max(procfs::hwm_kib(server.pid)?);
    crowd.check()?;
    if crowd.opened.get() != clients {
        return Err(format!(
            "{} of {clients} slow clients opened",
            crowd.opened.get()
        ));
    }
    let min_events = clients as u64 * secs / 2;
    if read_events.get() < min_events {
        return Err(format!(
            "slow clients parsed {} events, at least {min_events} expected",
            read_events.get()
        ));
    }
    Ok(SlowRun {
        clients,
        rss0_kib: rss0,
        peak_kib: peak,
    })
}

/// What `all` (and the single measurements) run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The binary to start servers from (`<exe> server <contestant> 0`).
    pub exe: PathBuf,
    /// Contestants, raw first.
    pub contestants: Vec<Contestant>,
    /// Runs per figure (medians of these).
    pub runs: usize,
    /// Concurrent connections for idle, heartbeat and fan-out.
    pub conns: usize,
    /// Minimum duration of one throughput run.
    pub min_run: Duration,
    /// Heartbeat CPU window.
    pub window: Duration,
    /// Scale mode: wait after opening every stream, before measuring.
    pub settle: Duration,
    /// Fan-out messages per round.
    pub fanout_msgs: usize,
    /// Slow clients.
    pub slow_clients: usize,
    /// How long `/slow` produces.
    pub slow_secs: u64,
    /// Pin servers to CPU 0 and the client to CPU 1.
    pub pin: bool,
    /// Event payload sizes of the throughput runs.
    pub sizes: Vec<usize>,
}

impl Config {
    /// The full benchmark: 10,000 connections, ≥ 1 s runs, 3 runs.
    pub fn full(exe: PathBuf) -> Self {
        Self {
            exe,
            contestants: Contestant::ALL.to_vec(),
            runs: 3,
            conns: 10_000,
            min_run: Duration::from_millis(1200),
            window: Duration::from_secs(5),
            settle: Duration::from_millis(1500),
            fanout_msgs: 10,
            slow_clients: 100,
            slow_secs: 10,
            pin: false,
            sizes: vec![64, 4096, 16384],
        }
    }
}

/// One figure of the table: the median of the runs, their spread.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which measurement.
    pub measure: String,
    /// Which contestant.
    pub contestant: Contestant,
    /// The values of the runs (unit in `unit`).
    pub values: Vec<f64>,
    /// Unit of the values.
    pub unit: &'static str,
    /// Extra figures (MB/s, time to first event, p50, ...).
    pub note: String,
    /// Set when the contestant failed this measurement.
    pub error: Option<String>,
}

impl Row {
    fn median(&self) -> Option<f64> {
        median(&self.values)
    }
}

pub(crate) fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

fn spread(v: &[f64]) -> String {
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    match median(v) {
        Some(m) if m != 0.0 => format!("±{:.0}%", (hi - lo) / 2.0 / m.abs() * 100.0),
        _ => "-".into(),
    }
}

pub(crate) fn fmt_num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

pub(crate) fn failed(measure: &str, c: Contestant, unit: &'static str, e: String) -> Row {
    eprintln!("  {c}: FAILED: {e}");
    Row {
        measure: measure.into(),
        contestant: c,
        values: vec![],
        unit,
        note: String::new(),
        error: Some(e),
    }
}

/// The measure name of a throughput row.
fn throughput_measure(size: usize, ids: bool) -> String {
    let what = if ids { "id per event" } else { "data only" };
    format!("throughput {size} B, {what}")
}

/// Single-stream throughput at `size`-byte payloads, every event with an `id: N` if
/// `ids`: a probe sizes N so that a run lasts at least `min_run`, then `runs` runs on the
/// same server. Every run's figure is in the note (runs can be bimodal).
pub fn throughput(cfg: &Config, size: usize, ids: bool) -> Vec<Row> {
    let measure = throughput_measure(size, ids);
    let unit = "M ev/s";
    let mut rows = Vec::new();
    for &c in &cfg.contestants {
        eprintln!("{measure}: {c}");
        let r = (|| -> Result<Row, Error> {
            let server = Server::start(&cfg.exe, c, cfg.pin)?;
            block_on(async {
                let probe_n: u64 = if size <= 256 { 200_000 } else { 20_000 };
                let probe = stream_once(server.addr, server.pid, probe_n, size, ids).await?;
                let n = ((probe.events_per_sec() * cfg.min_run.as_secs_f64()) as u64)
                    .clamp(1_000, 2_000_000_000);
                let mut runs = Vec::new();
                for _ in 0..cfg.runs {
                    runs.push(stream_once(server.addr, server.pid, n, size, ids).await?);
                }
                let eps: Vec<f64> = runs.iter().map(|r| r.events_per_sec() / 1e6).collect();
                let m = median(&eps).unwrap_or(0.0);
                let mut ttfe: Vec<f64> = runs
                    .iter()
                    .map(|r| r.first_event.as_secs_f64() * 1e6)
                    .collect();
                ttfe.sort_by(f64::total_cmp);
                let all: Vec<String> = eps.iter().map(|x| fmt_num(*x)).collect();
                // Who is the bottleneck: a side busy all along (100 %) is; its CPU time per
                // event bounds the rate.
                let busy = |f: fn(&StreamRun) -> f64| {
                    let pct: Vec<f64> = runs
                        .iter()
                        .map(|r| 100.0 * f(r) / r.elapsed.as_secs_f64())
                        .collect();
                    let ns: Vec<f64> = runs.iter().map(|r| f(r) * 1e9 / r.events as f64).collect();
                    format!(
                        "{:.0} % ({:.1} ns/event)",
                        median(&pct).unwrap_or(0.0),
                        median(&ns).unwrap_or(0.0)
                    )
                };
                let cpu = format!(
                    "; CPU busy: server {}, client {}",
                    busy(|r| r.server_cpu),
                    busy(|r| r.client_cpu)
                );
                let limit = if c == Contestant::Raw {
                    format!(
                        "; client parse limit {:.1} M ev/s",
                        crate::client::parse_limit(size, ids, Duration::from_millis(300)) / 1e6
                    )
                } else {
                    String::new()
                };
                Ok(Row {
                    measure: measure.clone(),
                    contestant: c,
                    values: eps,
                    unit,
                    note: format!(
                        "runs {} M ev/s; {:.0} MB/s, first event {:.0} µs, N={n}{cpu}{limit}",
                        all.join("/"),
                        m * size as f64,
                        median(&ttfe).unwrap_or(0.0)
                    ),
                    error: None,
                })
            })
        })();
        rows.push(r.unwrap_or_else(|e| failed(&measure, c, unit, e)));
    }
    rows
}

/// Idle memory and heartbeat CPU: `runs` freshly started servers per contestant, each
/// with `conns` streams heartbeating every second.
pub fn idle_and_heartbeat(cfg: &Config) -> (Vec<Row>, Vec<Row>) {
    let (mut mem, mut cpu) = (Vec::new(), Vec::new());
    // Ours twice: the `#[sse]` handler users write, and `Sse::from_fn` returned as is.
    let variants = cfg.contestants.iter().flat_map(|&c| {
        let from_fn = (c == Contestant::Ours).then_some((c, "&fn=1", ", Sse::from_fn"));
        std::iter::once((c, "", "")).chain(from_fn)
    });
    for (c, query, label) in variants {
        let (m1, m2) = (
            format!(
                "idle RSS/stream{label} ({} streams: the second half)",
                cfg.conns
            ),
            format!("CPU/heartbeat{label} ({} x 1 s)", cfg.conns),
        );
        eprintln!("idle + heartbeat: {c}{label}");
        let mut runs = Vec::new();
        let mut err = None;
        for _ in 0..cfg.runs {
            let r = Server::start(&cfg.exe, c, cfg.pin).and_then(|server| {
                block_on(idle_run(
                    &server,
                    cfg.conns,
                    Duration::from_secs(1),
                    Duration::from_millis(1500),
                    cfg.window,
                    query,
                ))
            });
            match r {
                Ok(r) => runs.push(r),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = err {
            mem.push(failed(&m1, c, "KiB", e.clone()));
            cpu.push(failed(&m2, c, "µs", e));
            continue;
        }
        let hbs: Vec<String> = runs.iter().map(|r| r.heartbeats.to_string()).collect();
        let fresh: Vec<f64> = runs.iter().map(|r| r.kib_per_conn_fresh).collect();
        mem.push(Row {
            measure: m1.clone(),
            contestant: c,
            values: runs.iter().map(|r| r.kib_per_conn).collect(),
            unit: "KiB",
            note: format!(
                "from a fresh server {} KiB",
                median(&fresh).map_or("-".into(), |m| format!("{m:.2}"))
            ),
            error: None,
        });
        cpu.push(Row {
            measure: m2.clone(),
            contestant: c,
            values: runs.iter().map(|r| r.cpu_us_per_hb).collect(),
            unit: "µs",
            note: format!(
                "schedstat {} µs; heartbeats in {:?}: {}",
                median(
                    &runs
                        .iter()
                        .filter_map(|r| r.sched_us_per_hb)
                        .collect::<Vec<_>>()
                )
                .map_or("-".into(), fmt_num),
                cfg.window,
                hbs.join("/")
            ),
            error: None,
        });
    }
    // Memory over plain actix-web: the SSE layer's own cost.
    if let Some(plain) = mem
        .iter()
        .find(|r| r.contestant == Contestant::Plain)
        .and_then(Row::median)
    {
        for r in &mut mem {
            if let Some(m) = r.median() {
                r.note = format!("{:+.2} KiB vs plain actix-web; {}", m - plain, r.note);
            }
        }
    }
    (mem, cpu)
}

/// Fan-out latency: one server per contestant, `conns` subscribers, `runs` rounds.
pub fn fanout(cfg: &Config) -> Vec<Row> {
    let measure = format!("fan-out p99 ({} subscribers)", cfg.conns);
    let mut rows = Vec::new();
    for &c in &cfg.contestants {
        eprintln!("fan-out: {c}");
        let r = Server::start(&cfg.exe, c, cfg.pin).and_then(|server| {
            block_on(fanout_run(
                &server,
                cfg.conns,
                cfg.runs,
                cfg.fanout_msgs,
                Duration::from_millis(100),
            ))
        });
        rows.push(match r {
            Ok(rounds) => {
                let p50: Vec<f64> = rounds.iter().map(|r| r.p50_us / 1e3).collect();
                let max: Vec<f64> = rounds.iter().map(|r| r.max_us / 1e3).collect();
                Row {
                    measure: measure.clone(),
                    contestant: c,
                    values: rounds.iter().map(|r| r.p99_us / 1e3).collect(),
                    unit: "ms",
                    note: format!(
                        "p50 {} ms, max {} ms, {} deliveries/round",
                        fmt_num(median(&p50).unwrap_or(0.0)),
                        fmt_num(median(&max).unwrap_or(0.0)),
                        rounds.first().map_or(0, |r| r.samples)
                    ),
                    error: None,
                }
            }
            Err(e) => failed(&measure, c, "ms", e),
        });
    }
    rows
}

/// Slow clients: one run per contestant (each lasts `slow_secs`).
pub fn slow(cfg: &Config) -> Vec<Row> {
    let measure = format!(
        "slow: peak RSS growth ({} clients, {} s)",
        cfg.slow_clients, cfg.slow_secs
    );
    let mut rows = Vec::new();
    for &c in &cfg.contestants {
        eprintln!("slow client: {c}");
        let r = Server::start(&cfg.exe, c, cfg.pin)
            .and_then(|server| block_on(slow_run(&server, cfg.slow_clients, cfg.slow_secs)));
        rows.push(match r {
            Ok(r) => {
                let growth = r.peak_kib.saturating_sub(r.rss0_kib) as f64;
                Row {
                    measure: measure.clone(),
                    contestant: c,
                    values: vec![growth / 1024.0],
                    unit: "MiB",
                    note: format!(
                        "peak {:.1} MiB, {:.0} KiB per client",
                        r.peak_kib as f64 / 1024.0,
                        growth / r.clients as f64
                    ),
                    error: None,
                }
            }
            Err(e) => failed(&measure, c, "MiB", e),
        });
    }
    rows
}

/// Prints the table: measure, contestant, median, spread (half the range, as a % of the
/// median), ratio to raw from the same invocation, and extra figures.
pub fn print_table(rows: &[Row]) {
    println!(
        "| measure | contestant | median | spread | × raw | notes |\n|---|---|---:|---:|---:|---|"
    );
    for r in rows {
        let raw = rows
            .iter()
            .find(|x| x.measure == r.measure && x.contestant == Contestant::Raw)
            .and_then(Row::median);
        match (&r.error, r.median()) {
            (None, Some(m)) => {
                let ratio = raw
                    .filter(|x| *x != 0.0)
                    .map_or("-".into(), |x| format!("{:.2}", m / x));
                println!(
                    "| {} | {} | {} {} | {} | {} | {} |",
                    r.measure,
                    r.contestant,
                    fmt_num(m),
                    r.unit,
                    spread(&r.values),
                    ratio,
                    r.note
                );
            }
            (e, _) => println!(
                "| {} | {} | FAILED | | | {} |",
                r.measure,
                r.contestant,
                e.as_deref().unwrap_or("no value")
            ),
        }
    }
}

/// Checks the targets for `ours`; prints one line each. Returns the misses.
pub fn print_targets(rows: &[Row]) -> usize {
    let get = |measure_prefix: &str, c: Contestant| {
        rows.iter()
            .find(|r| r.measure.starts_with(measure_prefix) && r.contestant == c)
            .and_then(Row::median)
    };
    let mut missed = 0;
    let mut check = |name: &str, ok: Option<bool>, detail: String| {
        let verdict = match ok {
            Some(true) => "met",
            Some(false) => {
                missed += 1;
                "MISSED"
            }
            None => "not measured",
        };
        println!("- {name}: {verdict} ({detail})");
    };
    let o = Contestant::Ours;
    let r = Contestant::Raw;
    let small = throughput_measure(64, true);
    for (than, name, limit) in [(r, "raw", 0.8), (Contestant::Lab, "actix-web-lab", 2.0)] {
        let ratio = get(&small, o).zip(get(&small, than)).map(|(a, b)| a / b);
        check(
            &format!("{small}: ours ≥ {limit}× {name}"),
            ratio.map(|x| x >= limit),
            ratio.map_or("-".into(), |x| format!("{x:.2}×")),
        );
    }
    for size in [4096, 16384] {
        let m = throughput_measure(size, true);
        let ratio = get(&m, o)
            .zip(get(&m, Contestant::Plain))
            .map(|(a, b)| a / b);
        check(
            &format!("{m}: ours ≥ 0.95× plain actix-web"),
            ratio.map(|x| x >= 0.95),
            ratio.map_or("-".into(), |x| format!("{x:.2}×")),
        );
    }
    let over = get("idle RSS", o)
        .zip(get("idle RSS", Contestant::Plain))
        .map(|(a, b)| a - b);
    check(
        "idle: ours ≤ plain actix-web + 0.5 KiB/stream",
        over.map(|x| x <= 0.5),
        over.map_or("-".into(), |x| format!("{x:+.2} KiB")),
    );
    for (base, c, what) in [
        (
            "idle RSS/stream, Sse::from_fn",
            o,
            "idle: ours #[sse] ≤ Sse::from_fn as is + 0.5 KiB/stream",
        ),
        (
            "idle RSS",
            Contestant::Lab,
            "idle: ours #[sse] ≤ actix-web-lab + 0.5 KiB/stream",
        ),
    ] {
        let over = get("idle RSS", o).zip(get(base, c)).map(|(a, b)| a - b);
        check(
            what,
            over.map(|x| x <= 0.5),
            over.map_or("-".into(), |x| format!("{x:+.2} KiB")),
        );
    }
    for (m, what, limit) in [
        ("CPU/heartbeat", "heartbeat CPU: ours ≤ 1.5× raw", 1.5),
        ("fan-out p99", "fan-out p99: ours ≤ 1.5× raw", 1.5),
    ] {
        let ratio = get(m, o).zip(get(m, r)).map(|(a, b)| a / b);
        check(
            what,
            ratio.map(|x| x <= limit),
            ratio.map_or("-".into(), |x| format!("{x:.2}×")),
        );
    }
    missed
}

/// Runs every measurement and prints the table and the targets. Returns false if any
/// contestant failed a measurement.
pub fn run_all(cfg: &Config, what: &[&str]) -> bool {
    let t0 = Instant::now();
    let mut rows = Vec::new();
    let want = |w: &str| what.contains(&"all") || what.contains(&w);
    if want("throughput") {
        for &size in &cfg.sizes {
            rows.extend(throughput(cfg, size, true));
            rows.extend(throughput(cfg, size, false));
        }
    }
    if want("idle") {
        let (mem, cpu) = idle_and_heartbeat(cfg);
        rows.extend(mem);
        rows.extend(cpu);
    }
    if want("fanout") {
        rows.extend(fanout(cfg));
    }
    if want("slow") {
        rows.extend(slow(cfg));
    }
    println!();
    print_table(&rows);
    println!();
    print_targets(&rows);
    println!(
        "\n{} runs per figure; servers {}; loadavg {}; TCP congestion control {}; total {:.0} s",
        cfg.runs,
        pinning(cfg.pin),
        read_trimmed("/proc/loadavg"),
        read_trimmed("/proc/sys/net/ipv4/tcp_congestion_control"),
        t0.elapsed().as_secs_f64()
    );
    rows.iter().all(|r| r.error.is_none())
}

/// A `/proc` file's text, or `?`.
pub(crate) fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}
