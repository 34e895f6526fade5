//! Several publisher threads, several subscriber threads that drop their subscription at
//! random and resume with the last id they saw (some of them also fall behind their small
//! queue, bounded in bytes, and get ended, as a slow client would): in the end, every subscriber saw exactly
//! the events of its topics since its first id (or, started live, since its first event),
//! once each, in id order.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use futures_util::FutureExt;
use sse_runtime::{Channels, EventId};

const TOPICS: [&str; 3] = ["a", "b", "c"];
const PUBLISHERS: usize = 3;
const PER_PUBLISHER: usize = 10_000;

/// xorshift: no dependency, reproducible per thread.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn resubscribing_subscribers_see_everything_exactly_once_in_order() {
    let deadline = Instant::now() + Duration::from_secs(20);
    let hub = Channels::builder()
        .history_events(100_000)
        .history_bytes(usize::MAX)
        .queue(64)
        // Small events: the byte bound (about 25 of them) is what a slow one hits first.
        .queue_bytes(1024)
        .build();
    let start = hub
        .publish("a", "start")
        .now_or_never()
        .unwrap()
        .unwrap()
        .to_string();

    // Published: position → (topic, data).
    let published = Arc::new(Mutex::new(BTreeMap::<u64, (String, String)>::new()));

    let sets: [&[&str]; 4] = [&["a"], &["b", "c"], &["c", "a", "b"], &["c", "a"]];
    // Set once publishing is over: the newest position in each subscriber's topics.
    let targets: Vec<Arc<Mutex<Option<u64>>>> = sets.iter().map(|_| Arc::default()).collect();
    let subscribers: Vec<_> = sets
        .iter()
        .zip(&targets)
        .enumerate()
        .map(|(n, (set, target))| {
            let hub = hub.clone();
            let start = start.clone();
            let target = target.clone();
            let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1));
                    // Two subscribers start live (no id): their first event must be a clean
                    // cut, every later event of their topics follows.
                    let live = n >= 2;
                    let mut last = (!live).then_some(start);
                    let mut seen: Vec<(u64, String, String)> = Vec::new();
                    let (mut subscriptions, mut lagged) = (0, 0);
                    loop {
                        let mut sub = hub.subscribe_many(&set, last.as_deref()).await;
                        subscriptions += 1;
                        let take = 1 + rng.below(300);
                        for _ in 0..take {
                            let mut waited = Duration::ZERO;
                            let next = loop {
                                let step = Duration::from_millis(50);
                                match tokio::time::timeout(step, sub.next()).await {
                                    Ok(next) => break next,
                                    Err(_) => waited += step,
                                }
                                let target = *target.lock().unwrap();
                                let have = seen.last().map(|s| s.0);
                                if target.is_some() && (have >= target || live && have.is_none()) {
                                    return (set, seen, subscriptions, lagged, live);
                                }
                                assert!(waited < Duration::from_secs(5), "not woken");
                            };
                            let Some(ev) = next else {
                                assert!(sub.lagged());
                                lagged += 1;
                                break;
                            };
                            assert!(!ev.is_reset(), "history covers everything: {ev:?}");
                            last = Some(ev.id().to_string());
                            seen.push((
                                ev.id().sequence(),
                                ev.topic().to_owned(),
                                ev.data().into_owned(),
                            ));
                            if rng.below(500) == 0 {
                                // A slow client: the queue overflows and the stream ends.
                                thread::sleep(Duration::from_millis(2));
                            }
                        }
                    }
                })
            })
        })
        .collect();

    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let hub = hub.clone();
            let published = published.clone();
            thread::spawn(move || {
                let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (p as u64 + 7));
                for i in 0..PER_PUBLISHER {
                    let topic = TOPICS[rng.below(3) as usize];
                    let data = format!("p{p}-{i}");
                    let id: EventId = hub
                        .publish(topic, data.as_str())
                        .now_or_never()
                        .expect("publish never waits")
                        .unwrap();
                    published
                        .lock()
                        .unwrap()
                        .insert(id.sequence(), (topic.to_owned(), data));
                    if i % 64 == 0 {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    let published = Arc::try_unwrap(published).unwrap().into_inner().unwrap();
    assert_eq!(published.len(), PUBLISHERS * PER_PUBLISHER);

    let start_seq = start.parse::<EventId>().unwrap().sequence();
    for (set, target) in sets.iter().zip(&targets) {
        *target.lock().unwrap() = published
            .iter()
            .rev()
            .find(|(_, (t, _))| set.contains(&t.as_str()))
            .map(|(&s, _)| s);
    }
    let results: Vec<_> = subscribers.into_iter().map(|s| s.join().unwrap()).collect();
    assert!(Instant::now() < deadline, "took too long");

    for (set, seen, subscriptions, lagged, live) in results {
        let from = match (live, seen.first()) {
            (true, Some(first)) => first.0,
            _ => start_seq + 1,
        };
        let expected: Vec<(u64, String, String)> = published
            .range(from..)
            .filter(|(_, (t, _))| set.contains(t))
            .map(|(&s, (t, d))| (s, t.clone(), d.clone()))
            .collect();
        assert!(
            seen.windows(2).all(|w| w[0].0 < w[1].0),
            "{set:?}: out of order or duplicated"
        );
        assert_eq!(seen.len(), expected.len(), "{set:?}");
        assert!(seen == expected, "{set:?}: not exactly what was published");
        eprintln!(
            "{set:?}: {} events over {subscriptions} subscriptions ({lagged} ended by lag)",
            seen.len()
        );
        assert!(subscriptions > 1);
    }
}

#[test]
fn a_live_subscription_to_several_topics_starts_at_one_position() {
    // One publisher cycles through eight topics, so positions in them are consecutive.
    // A live subscription to all eight, taken while it publishes, must then see
    // consecutive positions from its first event on: its topics all start at one cut,
    // though they are registered one after another.
    let topics: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
    let hub = Channels::builder().history_events(16).build();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (hub, topics, stop) = (hub.clone(), topics.clone(), stop.clone());
        thread::spawn(move || {
            let mut n = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let topic = &topics[n % topics.len()];
                hub.publish(topic, "x").now_or_never().unwrap().unwrap();
                n += 1;
            }
            n
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..1_500 {
            let mut sub = hub.subscribe_many(&topics, None).await;
            let mut seqs = Vec::new();
            for _ in 0..4 {
                let next = tokio::time::timeout(Duration::from_secs(5), sub.next())
                    .await
                    .expect("woken");
                // On a busy machine this thread may be descheduled long enough to lag.
                let Some(ev) = next else {
                    assert!(sub.lagged());
                    break;
                };
                seqs.push(ev.id().sequence());
            }
            assert!(
                seqs.windows(2).all(|w| w[1] == w[0] + 1),
                "a gap right after the start: {seqs:?}"
            );
        }
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(publisher.join().unwrap() > 0);
}
