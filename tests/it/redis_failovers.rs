//! The Redis backend through Sentinel failovers, as production runs it: a master, a
//! replica and three sentinels (quorum 2). A publisher keeps going through every fault while
//! a ledger records what was acknowledged; at the end, every acknowledged id is new and a
//! subscriber on another instance got each acknowledged event once, or a `reset` before the
//! gap.
//!
//! The faults, in turn: `kill -9` of the master; a replica held back (frozen, its link
//! dropped) while the master acknowledges, then the master killed and that replica
//! promoted, missing those events; and `SENTINEL FAILOVER` (the old master goes on
//! accepting writes until Sentinel demotes it, and what it took then vanishes when it
//! rejoins as a replica: the instances move to the new master when the sentinels announce
//! it).
//! Three faults (one of each) in the default run; `FAULTS=100 cargo test --test it
//! redis_sentinel_ledger` for the long form.

use crate::common;
use crate::redis_channels::data;

use std::sync::{
    atomic::{AtomicBool, Ordering::Relaxed},
    Arc, Mutex,
};
use std::time::{Duration, Instant};

use actix_sse::{ChannelEvent, Channels, Subscription};
use common::redis::{RedisServer, Sentinel};

/// Two servers (one master, one replica, roles changing with each failover) and three
/// sentinels.
struct Topology {
    servers: [RedisServer; 2],
    sentinels: Vec<Sentinel>,
}

impl Topology {
    async fn start() -> Self {
        let master = RedisServer::start();
        let replica = RedisServer::start_replica_of(master.port);
        master.wait_for_replica().await;
        let sentinels = (0..3)
            .map(|_| Sentinel::start_with_quorum(master.port, 2))
            .collect();
        let topology = Self {
            servers: [master, replica],
            sentinels,
        };
        topology.healthy().await;
        topology
    }

    fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        format!("redis+sentinel://{}/mymaster", hosts.join(","))
    }

    /// The server every sentinel names as the master, if they agree.
    fn named_master(&self) -> Option<usize> {
        let mut named = None;
        for sentinel in &self.sentinels {
            let reply = sentinel.command(&["SENTINEL", "get-master-addr-by-name", "mymaster"]);
            let i = self
                .servers
                .iter()
                .position(|s| reply.contains(&format!("\r\n{}\r\n", s.port)))?;
            if named.is_some_and(|n| n != i) {
                return None;
            }
            named = Some(i);
        }
        named
    }

    /// Waits until the sentinels agree on a master other than `old`; returns it.
    async fn failed_over(&self, old: usize) -> usize {
        let start = Instant::now();
        loop {
            match self.named_master() {
                Some(m) if m != old => return m,
                _ => {}
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no failover within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the next fault can happen: the sentinels agree on the master, it has
    /// its replica online, and every sentinel knows the other two and the replica, up.
    /// Returns the master.
    async fn healthy(&self) -> usize {
        let start = Instant::now();
        loop {
            if let Some(m) = self.named_master() {
                let replica_online = self.servers[m]
                    .command(&["INFO", "replication"])
                    .contains("state=online");
                let sentinels_ready = self.sentinels.iter().all(|s| {
                    let master = s.command(&["SENTINEL", "MASTER", "mymaster"]);
                    let replicas = s.command(&["SENTINEL", "REPLICAS", "mymaster"]);
                    master.contains("num-other-sentinels\r\n$1\r\n2\r\n")
                        && master.contains("num-slaves\r\n$1\r\n1\r\n")
                        && !replicas.contains("s_down")
                        && !replicas.contains("disconnected")
                });
                if replica_online && sentinels_ready {
                    return m;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the topology did not settle within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A publisher that goes on through faults, keeping a ledger of what was acknowledged
/// (data, id), in order; and a reader of a subscription on another instance, keeping what
/// it received.
struct Ledger {
    entries: Arc<Mutex<Vec<(String, String)>>>,
    received: Arc<Mutex<Vec<ChannelEvent>>>,
    stop: Arc<AtomicBool>,
    publisher: tokio::task::JoinHandle<()>,
    reader: tokio::task::JoinHandle<()>,
}

impl Ledger {
    fn start(hub: &Channels, mut sub: Subscription) -> Self {
        let entries = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let publisher = {
            let (hub, entries, stop) = (hub.clone(), entries.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Relaxed) {
                    i += 1;
                    match hub.publish("t", format!("n{i}")).await {
                        Ok(id) => entries
                            .lock()
                            .unwrap()
                            .push((format!("n{i}"), id.to_string())),
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        };
        let reader = {
            let received = received.clone();
            tokio::spawn(async move {
                while let Some(ev) = sub.next().await {
                    received.lock().unwrap().push(ev);
                }
            })
        };
        Self {
            entries,
            received,
            stop,
            publisher,
            reader,
        }
    }

    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }

    /// The id of the newest acknowledged publish.
    fn last_id(&self) -> String {
        self.entries.lock().unwrap().last().unwrap().1.clone()
    }

    /// Waits until `n` publishes in all were acknowledged.
    async fn acknowledged(&self, n: usize) {
        let start = Instant::now();
        while self.len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "publishing stalled"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops publishing; checks that every acknowledged id is new, and that the reader got
    /// each acknowledged event once, or after a reset that comes before the gap.
    async fn check(self) {
        self.stop.store(true, Relaxed);
        self.publisher.await.unwrap();
        let ledger = self.entries.lock().unwrap().clone();
        let ids: std::collections::HashSet<_> = ledger.iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(ids.len(), ledger.len(), "an id was handed out twice");
        let last = ledger.last().unwrap().1.clone();
        let start = Instant::now();
        while !self
            .received
            .lock()
            .unwrap()
            .iter()
            .any(|ev| ev.id().to_string() == last)
        {
            assert!(
                !self.reader.is_finished(),
                "the subscription ended before the last event"
            );
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the last event never arrived"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.reader.abort();
        let got = self.received.lock().unwrap().clone();
        let resets = got.iter().filter(|ev| ev.is_reset()).count();
        eprintln!(
            "ledger: {} acknowledged, {} received, {resets} resets",
            ledger.len(),
            got.len() - resets,
        );
        let mut seen = std::collections::HashMap::new();
        for (at, ev) in got.iter().enumerate() {
            if ev.is_reset() {
                continue;
            }
            if let Some(first) = seen.insert(data(ev), at) {
                let around = |at: usize| {
                    got[at.saturating_sub(5)..(at + 5).min(got.len())]
                        .iter()
                        .map(|ev| format!("{} {}", ev.id(), data(ev)))
                        .collect::<Vec<_>>()
                };
                let acked = ledger.iter().find(|(text, _)| *text == data(ev));
                panic!(
                    "{} twice (acknowledged as {acked:?}): at {first}: {:?}; at {at}: {:?}",
                    data(ev),
                    around(first),
                    around(at)
                );
            }
        }
        let position: std::collections::HashMap<String, usize> = got
            .iter()
            .enumerate()
            .filter(|(_, ev)| !ev.is_reset())
            .map(|(at, ev)| (data(ev), at))
            .collect();
        let mut last_received: Option<usize> = None;
        for (text, id) in &ledger {
            match position.get(text) {
                Some(&at) => last_received = Some(at),
                None => {
                    let after = last_received.map_or(0, |at| at + 1);
                    assert!(
                        got[after..].iter().any(|ev| ev.is_reset()),
                        "{text} ({id}) acknowledged, never received, and no reset told of it"
                    );
                }
            }
        }
    }
}

/// The epoch of an id (`{epoch}-{position}`).
fn epoch(id: &str) -> &str {
    &id[..id.rfind('-').unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sentinel_ledger_through_failovers() {
    common::redis::require();
    let faults: usize = std::env::var("FAULTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let mut topology = Topology::start().await;
    let url = topology.url();
    let a = Channels::redis(&url).await.unwrap();
    let b = Channels::redis(&url).await.unwrap();
    let ledger = Ledger::start(&a, b.subscribe("t", None).await);
    ledger.acknowledged(20).await;
    let started = Instant::now();
    for fault in 0..faults {
        let master = topology.healthy().await;
        let replica = 1 - master;
        // The forced failover last in each round: Sentinel turns the old master into a
        // replica only at its next look (10 s), which the next fault waits for.
        let kind = [1, 2, 0][fault % 3];
        match kind {
            0 => {
                // Forced, while the publisher goes on: the old master acknowledges until
                // the sentinel demotes it.
                let start = Instant::now();
                while !topology.sentinels[fault % 3]
                    .command(&["SENTINEL", "FAILOVER", "mymaster"])
                    .starts_with("+OK")
                {
                    assert!(start.elapsed() < Duration::from_secs(20), "no failover");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                assert_eq!(topology.failed_over(master).await, replica);
                // The instance hears of it from the sentinels and moves to the new master
                // at once, rather than when Sentinel demotes the old one (up to 10 s
                // later, which would discard what it acknowledged meanwhile).
                let seq = || topology.servers[replica].command(&["HGET", "actix-sse:hub", "seq"]);
                let (promoted, start) = (seq(), Instant::now());
                while seq() == promoted {
                    assert!(
                        start.elapsed() < Duration::from_secs(2),
                        "still publishing to the old master"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            1 => {
                topology.servers[master].kill();
                assert_eq!(topology.failed_over(master).await, replica);
                topology.servers[master].restart_as_replica_of(topology.servers[replica].port);
            }
            _ => {
                // Frozen alone, the replica would still get everything (the kernel buffers
                // what the master sends), so the master also drops the link.
                topology.servers[replica].freeze(true);
                topology.servers[master].command(&["CLIENT", "KILL", "TYPE", "replica"]);
                ledger.acknowledged(ledger.len() + 20).await;
                let behind = ledger.last_id();
                topology.servers[master].kill();
                topology.servers[replica].freeze(false);
                assert_eq!(topology.failed_over(master).await, replica);
                topology.servers[master].restart_as_replica_of(topology.servers[replica].port);
                ledger.acknowledged(ledger.len() + 1).await;
                // The new master's counter was behind what was handed out: a new epoch.
                assert_ne!(
                    epoch(&ledger.last_id()),
                    epoch(&behind),
                    "the counter went back and the epoch stayed"
                );
            }
        }
        // Publishing goes on against the new master.
        ledger.acknowledged(ledger.len() + 20).await;
        eprintln!(
            "fault {fault} ({}) done after {:?}; {} acknowledged",
            [
                "SENTINEL FAILOVER",
                "kill -9 of the master",
                "a replica behind promoted"
            ][kind],
            started.elapsed(),
            ledger.len()
        );
    }
    ledger.check().await;
}
