//! The fault suite: several instances of the chat example (real binaries) on one real
//! `redis-server`, subscribers that reconnect like browsers (to any instance, with their
//! `Last-Event-ID`), a publisher, and faults injected one after the other: an instance
//! killed with `kill -9` and restarted, an instance frozen with `SIGSTOP` then `SIGCONT`,
//! Redis restarted with its data (append-only file) and without it, a subscriber that
//! stops reading for a while.
//!
//! A ledger of every acknowledged publish (`200` with its id) is checked against what each
//! subscriber received: every acknowledged event exactly once, in order, or a reset event
//! before the gap. Prints `faults=.. events=.. delivered=.. resets=.. lost=.. duplicated=..`
//! and fails unless lost and duplicated are 0.
//!
//! The test command runs a short form (`FAULTS` defaults to 12; `SEED` picks the faults).
//! The long form (the chat binary must be built first: `cargo test` alone builds examples
//! only when it runs every test):
//!
//! ```text
//! cargo build --release --example chat
//! FAULTS=1000 cargo test --release --test it redis_faults -- --nocapture
//! ```

use crate::common;

use std::{
    cell::{Cell, RefCell},
    collections::{BTreeMap, HashSet},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    rc::Rc,
    time::{Duration, Instant},
};

use actix_web::HttpMessage as _;
use common::redis::RedisServer;
use futures_util::StreamExt;

fn chat_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join("examples").join("chat")
}

/// A small deterministic generator (xorshift), so a failing run can be repeated.
struct Rng(Cell<u64>);

impl Rng {
    fn below(&self, n: usize) -> usize {
        let mut x = self.0.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.set(x);
        (x % n as u64) as usize
    }
}

/// One chat instance on a fixed port, restarted in place.
struct Instance {
    port: u16,
    redis_url: String,
    child: Option<Child>,
}

impl Instance {
    fn new(redis_url: &str) -> Self {
        let port = common::free_port();
        let mut me = Self {
            port,
            redis_url: redis_url.into(),
            child: None,
        };
        me.start();
        me
    }

    fn start(&mut self) {
        let child = Command::new(chat_binary())
            .env("PORT", self.port.to_string())
            .env("REDIS_URL", &self.redis_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the chat example");
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "instance on {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.signal("-CONT");
        self.kill9();
    }
}

/// What a subscriber received, in order.
#[derive(Debug, Clone)]
enum Got {
    Message(String),
    Reset(String),
}

fn split_id(id: &str) -> (String, u64) {
    let (epoch, seq) = id.rsplit_once('-').expect("an id");
    (epoch.to_owned(), seq.parse().expect("a position"))
}

#[derive(Default, Debug)]
struct Tally {
    /// The first gaps found: (what came before, what came after, how many were lost).
    gaps: Vec<(String, String, usize)>,
    lost: usize,
    duplicated: usize,
    delivered: usize,
    resets: usize,
}

/// Checks one subscriber's log against the ledger (acknowledged ids, by epoch).
fn check(log: &[Got], ledger: &BTreeMap<String, Vec<u64>>, first_epoch: &str, tally: &mut Tally) {
    // Acknowledged positions of `epoch` strictly between `after` and `before` (sorted).
    let missing = |epoch: &str, after: u64, before: u64| -> usize {
        ledger.get(epoch).map_or(0, |seqs| {
            let from = seqs.partition_point(|&s| s <= after);
            let to = seqs.partition_point(|&s| s < before);
            to.saturating_sub(from)
        })
    };
    let mut cursor = (first_epoch.to_owned(), 0u64);
    let mut seen = HashSet::new();
    for (at, got) in log.iter().enumerate() {
        match got {
            Got::Reset(id) => {
                tally.resets += 1;
                cursor = split_id(id);
            }
            Got::Message(id) => {
                tally.delivered += 1;
                if !seen.insert(id.clone()) {
                    tally.duplicated += 1;
                    continue;
                }
                let (epoch, seq) = split_id(id);
                let lost = if epoch == cursor.0 {
                    if seq <= cursor.1 {
                        tally.duplicated += 1;
                        continue;
                    }
                    missing(&epoch, cursor.1, seq)
                } else {
                    // Another epoch without a reset first: the rest of the old one is lost.
                    missing(&cursor.0, cursor.1, u64::MAX) + missing(&epoch, 0, seq)
                };
                if lost > 0 && tally.gaps.len() < 10 {
                    tally.gaps.push((
                        format!("{:?}", &log[at.saturating_sub(4)..at]),
                        id.clone(),
                        lost,
                    ));
                }
                tally.lost += lost;
                cursor = (epoch, seq);
            }
        }
    }
    let lost = missing(&cursor.0, cursor.1, u64::MAX);
    if lost > 0 && tally.gaps.len() < 10 {
        tally
            .gaps
            .push((format!("{}-{}", cursor.0, cursor.1), "the end".into(), lost));
    }
    tally.lost += lost;
}

/// A subscriber that behaves like a browser: reads `/chat`, and whenever its stream ends
/// reconnects to an instance (the next one in turn) with its `Last-Event-ID`.
async fn subscriber(
    ports: Vec<u16>,
    start: usize,
    log: Rc<RefCell<Vec<Got>>>,
    slow_until: Rc<Cell<Option<Instant>>>,
    stop: Rc<Cell<bool>>,
) {
    use eventsource_stream::Eventsource;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(3))
        .finish();
    let mut last_id = String::new();
    let mut turn = start;
    while !stop.get() {
        turn += 1;
        let url = format!("http://127.0.0.1:{}/chat", ports[turn % ports.len()]);
        let mut req = client.get(&url);
        if !last_id.is_empty() {
            req = req.insert_header(("last-event-id", last_id.as_str()));
        }
        let Ok(mut resp) = req.send().await else {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if resp.status() != 200 {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let mut events = resp.take_payload().eventsource();
        loop {
            let next = actix_web::rt::time::timeout(Duration::from_millis(200), events.next());
            let ev = match next.await {
                Ok(Some(Ok(ev))) => ev,
                Ok(_) => break,
                Err(_) if stop.get() => return,
                Err(_) => continue,
            };
            match ev.event.as_str() {
                "message" => log.borrow_mut().push(Got::Message(ev.id.clone())),
                "reset" => log.borrow_mut().push(Got::Reset(ev.id.clone())),
                _ => continue,
            }
            last_id = ev.id;
            if let Some(until) = slow_until.get() {
                if Instant::now() < until {
                    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Says `p{n}` through the instances in turn; acknowledged ids go to the ledger.
async fn publisher(ports: Vec<u16>, ledger: Rc<RefCell<Vec<String>>>, stop: Rc<Cell<bool>>) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(3))
        .finish();
    let mut n = 0usize;
    while !stop.get() {
        n += 1;
        let url = format!("http://127.0.0.1:{}/say", ports[n % ports.len()]);
        if let Ok(mut resp) = client.post(&url).send_body(format!("p{n}")).await {
            if resp.status() == 200 {
                if let Ok(body) = resp.body().await {
                    ledger
                        .borrow_mut()
                        .push(String::from_utf8(body.to_vec()).unwrap());
                }
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
}

#[actix_web::test]
async fn redis_every_acknowledged_event_arrives_once_or_after_a_reset_through_faults() {
    common::redis::require();
    assert!(chat_binary().exists(), "the chat example is not built");
    let faults: usize = std::env::var("FAULTS")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or(12);
    let rng = Rng(Cell::new(
        std::env::var("SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_1234_abcd),
    ));
    let mut redis = RedisServer::start_persistent();
    let mut instances: Vec<Instance> = (0..3).map(|_| Instance::new(&redis.url())).collect();
    let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();

    let stop = Rc::new(Cell::new(false));
    let ledger = Rc::new(RefCell::new(Vec::new()));
    let mut subscribers = Vec::new();
    for n in 0..6 {
        let log = Rc::new(RefCell::new(Vec::new()));
        let slow = Rc::new(Cell::new(None));
        subscribers.push((log.clone(), slow.clone()));
        actix_web::rt::spawn(subscriber(ports.clone(), n, log, slow, stop.clone()));
    }
    // Let every subscriber be in place before the first publish: from then on, each must
    // get everything.
    let subscribed = Instant::now();
    loop {
        let count = redis.command(&["PUBSUB", "NUMSUB", "actix-sse:live:chat"]);
        if count.contains(":3\r\n") {
            break;
        }
        assert!(subscribed.elapsed() < Duration::from_secs(10), "{count}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    let publishing = Rc::new(Cell::new(false));
    let publisher_task =
        actix_web::rt::spawn(publisher(ports.clone(), ledger.clone(), publishing.clone()));

    let mut counts = BTreeMap::<&str, usize>::new();
    for k in 0..faults {
        actix_web::rt::time::sleep(Duration::from_millis(20 + rng.below(30) as u64)).await;
        // Each kind at least twice in the short form; the empty restart is rarer.
        let kind = match k % 6 {
            5 if k % 12 != 11 => rng.below(4),
            5 => 4,
            other => other.min(3),
        };
        let name = match kind {
            0 => {
                let i = rng.below(instances.len());
                instances[i].kill9();
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                instances[i].start();
                "instance kill -9"
            }
            1 => {
                let i = rng.below(instances.len());
                instances[i].signal("-STOP");
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
                instances[i].signal("-CONT");
                "instance SIGSTOP/SIGCONT"
            }
            2 => {
                redis.kill();
                actix_web::rt::time::sleep(Duration::from_millis(30)).await;
                redis.restart();
                "redis restart (persistent)"
            }
            3 => {
                let (_, slow) = &subscribers[rng.below(subscribers.len())];
                slow.set(Some(Instant::now() + Duration::from_millis(300)));
                "slow subscriber"
            }
            _ => {
                redis.kill();
                redis.wipe();
                redis.restart();
                "redis restart (empty)"
            }
        };
        *counts.entry(name).or_default() += 1;
    }
    // Quiet: stop publishing, let everyone catch up with the last acknowledged event.
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    publishing.set(true);
    publisher_task.await.unwrap();
    let last = ledger
        .borrow()
        .last()
        .cloned()
        .expect("something was published");
    let caught_up = Instant::now();
    while !subscribers.iter().all(|(log, _)| {
        log.borrow().iter().rev().any(|g| match g {
            Got::Message(id) | Got::Reset(id) => {
                split_id(id).0 == split_id(&last).0 && split_id(id).1 >= split_id(&last).1
            }
        })
    }) {
        assert!(
            caught_up.elapsed() < Duration::from_secs(30),
            "subscribers did not catch up with {last}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    stop.set(true);

    let ledger = ledger.borrow();
    let mut by_epoch: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for id in ledger.iter() {
        let (epoch, seq) = split_id(id);
        by_epoch.entry(epoch).or_default().push(seq);
    }
    for seqs in by_epoch.values_mut() {
        seqs.sort_unstable();
    }
    let first_epoch = split_id(&ledger[0]).0;
    let mut tally = Tally::default();
    for (log, _) in &subscribers {
        check(&log.borrow(), &by_epoch, &first_epoch, &mut tally);
    }
    println!(
        "faults={faults} events={} delivered={} resets={} lost={} duplicated={} ({counts:?})",
        ledger.len(),
        tally.delivered,
        tally.resets,
        tally.lost,
        tally.duplicated
    );
    assert!(ledger.len() > faults, "too few events to mean anything");
    assert_eq!((tally.lost, tally.duplicated), (0, 0), "{tally:?}");
    drop(instances);
}
