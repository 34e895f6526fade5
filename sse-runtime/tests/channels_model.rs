//! Model-based test of the in-process hub: random interleavings of publishes on several
//! topics, subscriptions (one or several topics) resuming from ids taken from earlier
//! events, stale ids, garbage and other hubs' ids, drops and trimming by small history
//! bounds, checked against a plain model after every step.
//!
//! The model: every subscription receives exactly the events of its topics after its
//! resume point (each once, in id order), or, when that point is unknown or no longer
//! covered by history, one reset event positioned at the newest id, then live events.

use std::collections::{BTreeMap, VecDeque};

use futures_util::FutureExt;
use proptest::prelude::*;
use sse_runtime::{ChannelEvent, Channels, Event, Subscription};

const TOPICS: [&str; 3] = ["a", "b", "c"];
const SETS: [&[usize]; 6] = [&[0], &[1], &[2], &[0, 1], &[1, 2], &[2, 1, 0]];

#[derive(Debug, Clone)]
enum Resume {
    None,
    /// The id of an event some subscriber received before (resets included).
    Received(usize),
    /// The id of an event published before (maybe long trimmed).
    Published(usize),
    /// The position before everything: `{epoch}-0`.
    Zero,
    Garbage(String),
    OtherHub,
}

#[derive(Debug, Clone)]
enum Op {
    Publish { topic: usize, invalid: bool },
    Subscribe { set: usize, resume: Resume },
    Drain(usize),
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let resume = prop_oneof![
        2 => Just(Resume::None),
        4 => any::<usize>().prop_map(Resume::Received),
        2 => any::<usize>().prop_map(Resume::Published),
        1 => Just(Resume::Zero),
        1 => "[a-z0-9-]{0,12}".prop_map(Resume::Garbage),
        1 => Just(Resume::OtherHub),
    ];
    prop_oneof![
        6 => (0..TOPICS.len(), prop::bool::weighted(0.05))
            .prop_map(|(topic, invalid)| Op::Publish { topic, invalid }),
        2 => (0..SETS.len(), resume).prop_map(|(set, resume)| Op::Subscribe { set, resume }),
        3 => any::<usize>().prop_map(Op::Drain),
        1 => any::<usize>().prop_map(Op::Drop),
    ]
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Event(u64),
    Reset(u64, String),
}

struct Sub {
    real: Subscription,
    topics: Vec<usize>,
    expected: Vec<Seen>,
    received: Vec<Seen>,
}

#[derive(Default)]
struct Model {
    /// Per topic: the retained positions (the last `history` ones).
    retained: [VecDeque<u64>; 3],
    /// Per topic: the highest position trimmed away.
    trimmed: [u64; 3],
    /// Every published position with its topic.
    published: BTreeMap<u64, usize>,
    head: u64,
}

fn seen(ev: &ChannelEvent) -> Seen {
    if ev.is_reset() {
        Seen::Reset(ev.id().sequence(), ev.data().into_owned())
    } else {
        Seen::Event(ev.id().sequence())
    }
}

fn run(history: usize, replay_last: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let hub = Channels::builder()
            .history_events(history)
            .replay_last(replay_last)
            .build();
        let other = Channels::new();
        let other_id = other.publish("a", "x").await.unwrap().to_string();
        let mut model = Model::default();
        let mut subs: Vec<Sub> = Vec::new();
        // Ids as clients would hold them: published ones and received ones (resets too).
        let mut published_ids: Vec<String> = Vec::new();
        let mut received_ids: Vec<String> = Vec::new();
        let mut epoch = None::<String>;

        for op in ops {
            match op {
                Op::Publish { topic, invalid } => {
                    let name = TOPICS[topic];
                    if invalid {
                        let err = hub.publish(name, Event::data("x").event("a\nb")).await;
                        prop_assert!(err.is_err());
                        continue;
                    }
                    let id = hub.publish(name, name).await.unwrap();
                    prop_assert_eq!(id.sequence(), model.head + 1, "ids are consecutive");
                    model.head = id.sequence();
                    model.published.insert(model.head, topic);
                    let retained = &mut model.retained[topic];
                    retained.push_back(model.head);
                    if retained.len() > history {
                        model.trimmed[topic] = retained.pop_front().unwrap();
                    }
                    for sub in &mut subs {
                        if sub.topics.contains(&topic) {
                            sub.expected.push(Seen::Event(model.head));
                        }
                    }
                    let text = id.to_string();
                    epoch.get_or_insert_with(|| text.split_once('-').unwrap().0.to_owned());
                    published_ids.push(text);
                }
                Op::Subscribe { set, resume } => {
                    let topics: Vec<usize> = SETS[set].to_vec();
                    let names: Vec<&str> = topics.iter().map(|&t| TOPICS[t]).collect();
                    // (the id string, the position if this hub knows it)
                    let last: Option<(String, Option<u64>)> = match resume {
                        Resume::None => None,
                        Resume::Received(i) if !received_ids.is_empty() => {
                            let id = received_ids[i % received_ids.len()].clone();
                            let seq = id.parse::<sse_runtime::EventId>().unwrap().sequence();
                            Some((id, Some(seq)))
                        }
                        Resume::Published(i) if !published_ids.is_empty() => {
                            let id = published_ids[i % published_ids.len()].clone();
                            let seq = id.parse::<sse_runtime::EventId>().unwrap().sequence();
                            Some((id, Some(seq)))
                        }
                        Resume::Zero if epoch.is_some() => {
                            Some((format!("{}-0", epoch.as_ref().unwrap()), Some(0)))
                        }
                        Resume::Received(_) | Resume::Published(_) | Resume::Zero => None,
                        Resume::Garbage(text) if text.is_empty() => None,
                        Resume::Garbage(text) => Some((text, None)),
                        Resume::OtherHub => Some((other_id.clone(), None)),
                    };
                    let real = hub
                        .subscribe_many(&names, last.as_ref().map(|l| l.0.as_str()))
                        .await;
                    let mut retained: Vec<u64> = topics
                        .iter()
                        .flat_map(|&t| model.retained[t].iter().copied())
                        .collect();
                    retained.sort_unstable();
                    let expected = match last {
                        None => {
                            let skip = retained.len().saturating_sub(replay_last);
                            retained[skip..].iter().map(|&s| Seen::Event(s)).collect()
                        }
                        Some((_, None)) => vec![Seen::Reset(model.head, "unknown-id".into())],
                        Some((_, Some(from))) => {
                            if topics.iter().any(|&t| model.trimmed[t] > from) {
                                vec![Seen::Reset(model.head, "trimmed".into())]
                            } else {
                                // Not trimmed: history holds every event after `from`.
                                let all: Vec<u64> = model
                                    .published
                                    .range(from + 1..)
                                    .filter(|(_, t)| topics.contains(t))
                                    .map(|(&s, _)| s)
                                    .collect();
                                let kept: Vec<u64> =
                                    retained.iter().copied().filter(|&s| s > from).collect();
                                prop_assert_eq!(&all, &kept);
                                all.into_iter().map(Seen::Event).collect()
                            }
                        }
                    };
                    subs.push(Sub {
                        real,
                        topics,
                        expected,
                        received: Vec::new(),
                    });
                }
                Op::Drain(i) if !subs.is_empty() => {
                    let n = subs.len();
                    let sub = &mut subs[i % n];
                    while let Some(next) = sub.real.next().now_or_never() {
                        let ev = next.expect("a subscription that keeps up never ends");
                        received_ids.push(ev.id().to_string());
                        if !ev.is_reset() {
                            prop_assert!(sub.topics.iter().any(|&t| TOPICS[t] == ev.topic()));
                            prop_assert_eq!(ev.data(), ev.topic());
                        }
                        sub.received.push(seen(&ev));
                    }
                    prop_assert_eq!(&sub.received, &sub.expected);
                }
                Op::Drop(i) if !subs.is_empty() => {
                    let n = subs.len();
                    drop(subs.swap_remove(i % n));
                }
                Op::Drain(_) | Op::Drop(_) => {}
            }
            for (t, name) in TOPICS.iter().enumerate() {
                let count = subs.iter().filter(|s| s.topics.contains(&t)).count();
                prop_assert_eq!(hub.subscriber_count(name), count);
            }
        }
        for sub in &mut subs {
            while let Some(Some(ev)) = sub.real.next().now_or_never() {
                sub.received.push(seen(&ev));
            }
            prop_assert_eq!(&sub.received, &sub.expected);
        }
        drop(subs);
        let used = (0..3).filter(|&t| !model.retained[t].is_empty()).count();
        prop_assert_eq!(hub.topic_count(), used);
        for name in TOPICS {
            prop_assert_eq!(hub.subscriber_count(name), 0);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_subscriber_gets_its_suffix_or_a_reset(
        history in 1usize..5,
        replay_last in prop_oneof![Just(0usize), 1usize..4],
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run(history, replay_last, ops)?;
    }
}
