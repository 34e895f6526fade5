//! Channels: slow subscribers, bad input, leaks, multi-topic resume, filters, waking.

use std::time::Duration;

use futures_util::FutureExt;
use sse_runtime::{ChannelEvent, Channels, Event, EventId, Lag, Subscription};

/// Publishing on the in-process hub completes at once: `now` fails the test otherwise.
fn publish(hub: &Channels, topic: &str, data: impl Into<String>) -> EventId {
    hub.publish(topic, data.into())
        .now_or_never()
        .expect("publish never waits")
        .unwrap()
}

fn subscribe(hub: &Channels, topics: &[&str], last: Option<&str>) -> Subscription {
    hub.subscribe_many(topics, last)
        .now_or_never()
        .expect("subscribe never waits")
}

/// Everything the subscription has ready now; `None` at the end if it ended.
fn drain(sub: &mut Subscription) -> (Vec<ChannelEvent>, bool) {
    let mut out = Vec::new();
    loop {
        match sub.next().now_or_never() {
            Some(Some(ev)) => out.push(ev),
            Some(None) => return (out, true),
            None => return (out, false),
        }
    }
}

fn seqs(events: &[ChannelEvent]) -> Vec<u64> {
    events.iter().map(|e| e.id().sequence()).collect()
}

#[test]
fn a_slow_subscriber_ends_under_lag_end_and_nobody_else_notices() {
    let hub = Channels::builder().queue(4).build();
    let mut slow = subscribe(&hub, &["t"], None);
    let mut fast = subscribe(&hub, &["t"], None);
    let mut got = Vec::new();
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(publish(&hub, "t", i.to_string()));
        got.extend(drain(&mut fast).0);
    }
    assert_eq!(
        got.iter()
            .map(|e| e.data().into_owned())
            .collect::<Vec<_>>(),
        (0..100).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert!(!fast.lagged());
    assert_eq!(hub.subscriber_count("t"), 1, "the lagging one left at once");

    // It ends right away, without the events it had queued.
    assert!(slow.lagged());
    assert_eq!(drain(&mut slow), (vec![], true));

    // Its client reconnects with the last id it saw and resumes from history.
    let mut again = subscribe(&hub, &["t"], Some(&ids[3].to_string()));
    let (resumed, ended) = drain(&mut again);
    assert!(!ended);
    assert_eq!(seqs(&resumed), seqs_of(&ids[4..]));
}

fn seqs_of(ids: &[EventId]) -> Vec<u64> {
    ids.iter().map(EventId::sequence).collect()
}

#[test]
fn a_slow_subscriber_gets_a_reset_then_live_under_lag_reset() {
    let hub = Channels::builder().queue(4).on_lag(Lag::Reset).build();
    let mut slow = subscribe(&hub, &["t"], None);
    let ids: Vec<EventId> = (0..100)
        .map(|i| publish(&hub, "t", i.to_string()))
        .collect();
    assert!(slow.lagged());
    let (got, ended) = drain(&mut slow);
    assert!(!ended);
    let reset = &got[0];
    assert!(reset.is_reset());
    assert_eq!(reset.data(), "lagged");
    assert_eq!(reset.event_type(), Some("reset"));
    // The reset's position is where the queue was last dropped (the 100th event
    // overflowed it again); what follows is every event after it: here none yet.
    let after = &got[1..];
    assert!(after.len() <= 4);
    assert!(after.iter().all(|e| !e.is_reset()));
    let from = ids
        .iter()
        .position(|id| id == reset.id())
        .expect("a published position");
    assert_eq!(seqs(after), seqs_of(&ids[from + 1..]));

    let live = publish(&hub, "t", "live");
    assert_eq!(seqs(&drain(&mut slow).0), [live.sequence()]);
    assert_eq!(hub.subscriber_count("t"), 1);

    // With 98 events, the last overflow was at the 95th: the reset is followed by 96-98.
    let hub = Channels::builder().queue(4).on_lag(Lag::Reset).build();
    let mut slow = subscribe(&hub, &["t"], None);
    let ids: Vec<EventId> = (0..98).map(|i| publish(&hub, "t", i.to_string())).collect();
    let got = drain(&mut slow).0;
    assert_eq!(got[0].id(), &ids[94]);
    assert_eq!(seqs(&got[1..]), seqs_of(&ids[95..]));
}

#[test]
fn bad_last_event_ids_give_a_reset_never_a_panic() {
    let hub = Channels::new();
    let other = Channels::new();
    publish(&hub, "t", "a");
    let head = publish(&hub, "t", "b");
    let foreign = publish(&other, "t", "x").to_string();
    let future = EventId::to_string(&head).replace("-2", "-3");
    let huge = "1".repeat(64 * 1024);
    let long_valid_looking = format!("{head}{}", "0".repeat(2000));
    for bad in [
        "garbage",
        "\u{0}\u{ffff}-\n",
        "-",
        &huge,
        &foreign,
        &future,
        &long_valid_looking,
    ] {
        let mut sub = subscribe(&hub, &["t"], Some(bad));
        let (got, ended) = drain(&mut sub);
        assert!(!ended);
        assert_eq!(got.len(), 1, "{bad:.40?}");
        assert!(got[0].is_reset());
        assert_eq!(got[0].data(), "unknown-id");
        assert_eq!(got[0].id(), &head);
    }
    // An empty Last-Event-ID is no id at all: live.
    let mut sub = subscribe(&hub, &["t"], Some(""));
    assert_eq!(drain(&mut sub), (vec![], false));
}

#[test]
fn subscriptions_leave_no_trace() {
    let hub = Channels::builder().history_events(0).build();
    let subs: Vec<Subscription> = (0..50)
        .map(|i| {
            subscribe(
                &hub,
                &[&format!("t{}", i % 5), "all", &format!("t{}", i % 5)],
                None,
            )
        })
        .collect();
    assert_eq!(hub.topic_count(), 6);
    assert_eq!(hub.subscriber_count("all"), 50);
    assert_eq!(hub.subscriber_count("t0"), 10);
    publish(&hub, "all", "x");
    drop(subs);
    assert_eq!(hub.subscriber_count("all"), 0);
    assert_eq!(hub.topic_count(), 0);

    // Lagged-out subscriptions are gone from their topic at once, the rest on drop.
    let hub = Channels::builder().queue(1).build();
    let a = subscribe(&hub, &["x", "y"], None);
    publish(&hub, "x", "1");
    publish(&hub, "x", "2");
    assert!(a.lagged());
    assert_eq!(hub.subscriber_count("x"), 0);
    assert_eq!(hub.subscriber_count("y"), 1);
    drop(a);
    assert_eq!(hub.subscriber_count("y"), 0);
    assert_eq!(hub.topic_count(), 1, "x keeps its history");
}

#[test]
fn topics_with_no_history_left_are_swept_and_an_old_position_resets() {
    let hub = Channels::builder()
        .history_age(Duration::from_millis(30))
        .build();
    let old = publish(&hub, "t", "old");
    publish(&hub, "t", "missed");
    publish(&hub, "u", "kept alive by a subscriber");
    let _sub = subscribe(&hub, &["u"], None);
    assert_eq!(hub.topic_count(), 2);
    std::thread::sleep(Duration::from_millis(50));
    hub.sweep();
    assert_eq!(hub.topic_count(), 1);
    assert_eq!(hub.subscriber_count("u"), 1);

    // The topic is created afresh, but a position older than what it lost still resets.
    let mut sub = subscribe(&hub, &["t"], Some(&old.to_string()));
    let (got, _) = drain(&mut sub);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data(), "trimmed");
    let new = publish(&hub, "t", "new");
    assert!(new.sequence() > old.sequence());
    assert_eq!(seqs(&drain(&mut sub).0), [new.sequence()]);
}

#[test]
fn several_topics_merge_in_id_order_and_resume_from_one_id() {
    let hub = Channels::new();
    let mut both = subscribe(&hub, &["a", "b"], None);
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(publish(
            &hub,
            if i % 3 == 0 { "a" } else { "b" },
            i.to_string(),
        ));
        publish(&hub, "c", "not subscribed");
    }
    let (got, _) = drain(&mut both);
    assert_eq!(seqs(&got), seqs_of(&ids));
    assert_eq!(got[0].topic(), "a");
    assert_eq!(got[1].topic(), "b");

    // Resume from an id that came from topic `b`: both topics continue after it.
    let mut resumed = subscribe(&hub, &["b", "a"], Some(&ids[4].to_string()));
    assert_eq!(seqs(&drain(&mut resumed).0), seqs_of(&ids[5..]));
    // One topic alone resumes from an id of another topic too.
    let mut only_a = subscribe(&hub, &["a"], Some(&ids[4].to_string()));
    assert_eq!(
        drain(&mut only_a)
            .0
            .iter()
            .map(|e| e.data().into_owned())
            .collect::<Vec<_>>(),
        ["6", "9"]
    );
    // No topics: ends at once.
    let mut none = subscribe(&hub, &[], None);
    assert_eq!(drain(&mut none), (vec![], true));
}

#[test]
fn a_long_resume_over_several_topics_comes_exact_and_in_id_order() {
    // Far longer than what a subscription reads from history at a time.
    let hub = Channels::builder().history_events(2_000).build();
    let ids: Vec<EventId> = (0..1_000)
        .map(|i| publish(&hub, ["a", "b", "c"][i % 3], i.to_string()))
        .collect();
    let mut sub = subscribe(&hub, &["c", "a"], Some(&ids[99].to_string()));
    // Published after the subscription: behind the replay, in order.
    let live: Vec<EventId> = (0..50)
        .map(|i| publish(&hub, ["a", "c"][i % 2], "live"))
        .collect();
    let want: Vec<u64> = ids[100..]
        .iter()
        .enumerate()
        .filter(|(i, _)| (100 + i) % 3 != 1)
        .map(|(_, id)| id.sequence())
        .chain(seqs_of(&live))
        .collect();
    let (got, ended) = drain(&mut sub);
    assert!(!ended);
    assert_eq!(seqs(&got), want);
}

#[test]
fn a_resume_whose_history_is_trimmed_before_it_is_read_gets_a_reset() {
    let hub = Channels::builder()
        .history_events(500)
        .queue(100_000)
        .build();
    let ids: Vec<EventId> = (0..500)
        .map(|i| publish(&hub, "t", i.to_string()))
        .collect();
    let mut sub = subscribe(&hub, &["t"], Some(&ids[0].to_string()));
    let mut got = Vec::new();
    for _ in 0..40 {
        got.push(sub.next().now_or_never().unwrap().unwrap());
    }
    assert_eq!(seqs(&got), seqs_of(&ids[1..41]));
    // New events push the rest of what it missed out of the history before it reads it.
    let newer: Vec<EventId> = (0..1_000)
        .map(|i| publish(&hub, "t", i.to_string()))
        .collect();
    let (rest, _) = drain(&mut sub);
    let reset = rest
        .iter()
        .position(ChannelEvent::is_reset)
        .expect("a reset");
    // What it had read ahead still comes, in order; then the reset, at the newest id;
    // nothing after it but what is published next.
    assert_eq!(seqs(&rest[..reset]), seqs_of(&ids[41..41 + reset]));
    assert_eq!(rest[reset].data(), "trimmed");
    assert_eq!(rest[reset].id(), newer.last().unwrap());
    assert_eq!(rest.len(), reset + 1);
    let next = publish(&hub, "t", "after");
    assert_eq!(seqs(&drain(&mut sub).0), [next.sequence()]);
}

#[test]
fn replay_last_starts_with_recent_history() {
    let hub = Channels::builder().replay_last(3).build();
    let ids: Vec<EventId> = (0..10)
        .map(|i| publish(&hub, ["a", "b"][i % 2], i.to_string()))
        .collect();
    let mut a = subscribe(&hub, &["a"], None);
    assert_eq!(seqs(&drain(&mut a).0), seqs_of(&[ids[4], ids[6], ids[8]]));
    let mut ab = subscribe(&hub, &["a", "b"], None);
    assert_eq!(seqs(&drain(&mut ab).0), seqs_of(&ids[7..]));
}

#[test]
fn filters_skip_events_but_never_resets() {
    let hub = Channels::new();
    let mut odd = subscribe(&hub, &["t"], Some("bogus"))
        .filter(|e| e.data().parse::<u32>().is_ok_and(|n| n % 2 == 1))
        .filter(|e| e.data() != "5");
    for i in 0..8 {
        publish(&hub, "t", i.to_string());
    }
    let got = drain(&mut odd).0;
    assert!(got[0].is_reset());
    let data: Vec<String> = got[1..].iter().map(|e| e.data().into_owned()).collect();
    assert_eq!(data, ["1", "3", "7"]);
}

#[test]
fn publish_accepts_events_strings_and_serialized_values() {
    let hub = Channels::new();
    let mut sub = subscribe(&hub, &["t"], None);
    hub.publish("t", "str").now_or_never().unwrap().unwrap();
    hub.publish("t", String::from("string"))
        .now_or_never()
        .unwrap()
        .unwrap();
    hub.publish("t", Event::data("event").event("kind"))
        .now_or_never()
        .unwrap()
        .unwrap();
    hub.publish_serialized("t", &vec![1, 2], &sse_runtime::Json, Event::new())
        .now_or_never()
        .unwrap()
        .unwrap();
    let shout = |s: &str| s.to_uppercase();
    hub.publish_serialized("t", "fn", &shout, Event::new().event("up"))
        .now_or_never()
        .unwrap()
        .unwrap();
    let got: Vec<(Option<String>, String)> = drain(&mut sub)
        .0
        .iter()
        .map(|e| (e.event_type().map(str::to_owned), e.data().into_owned()))
        .collect();
    assert_eq!(
        got,
        [
            (None, "str".into()),
            (None, "string".into()),
            (Some("kind".into()), "event".into()),
            (None, "[1,2]".into()),
            (Some("up".into()), "FN".into()),
        ]
    );
}

#[tokio::test]
async fn a_waiting_subscriber_is_woken_by_a_publish_from_another_thread() {
    let hub = Channels::new();
    let mut one = hub.subscribe("a", None).await;
    let mut many = hub.subscribe_many(&["b", "a"], None).await;
    let publisher = hub.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        publish(&publisher, "a", "hi")
    });
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        (one.next().await.unwrap(), many.next().await.unwrap())
    })
    .await
    .expect("woken");
    let id = thread.join().unwrap();
    assert_eq!((got.0.id(), got.1.id()), (&id, &id));
}

#[test]
fn channels_is_send_sync_and_cheap_to_clone() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    fn check_stream<T: Send + Sync + Unpin + 'static>() {}
    check::<Channels>();
    check::<ChannelEvent>();
    check_stream::<Subscription>();
    let hub = Channels::new();
    let fut = hub.publish("t", "x");
    fn send<T: Send>(_: &T) {}
    send(&fut);
    send(&hub.subscribe("t", None));
}

/// `send!(event, id = ..)` rebuilds a channel event as an `Event`: every field it was
/// published with comes back, multi-line data and the hub's id included.
#[test]
fn a_channel_event_rebuilds_the_event_it_was_published_as() {
    use sse_runtime::IntoEvent;
    let hub = Channels::builder().replay_last(1).build();
    let published = Event::data("line 1\nline 2\n")
        .event("update")
        .retry(Duration::from_millis(2500))
        .with_comment("note\nmore");
    let id = hub
        .publish("t", published.clone())
        .now_or_never()
        .expect("publish never waits")
        .unwrap();
    let mut sub = subscribe(&hub, &["t"], None);
    let got = drain(&mut sub).0.remove(0);
    assert_eq!(got.into_event(), published.id(id));
}

#[test]
fn a_queue_is_bounded_in_bytes_as_well_as_events() {
    // 10 KiB events into a 32 KiB queue: the fourth does not fit, whatever the count bound.
    let big = "x".repeat(10 * 1024);
    let hub = Channels::builder()
        .queue(1_000)
        .queue_bytes(32 * 1024)
        .build();
    let mut slow = subscribe(&hub, &["t"], None);
    let ids: Vec<EventId> = (0..3).map(|_| publish(&hub, "t", big.as_str())).collect();
    assert!(!slow.lagged(), "three events fit");
    assert_eq!(hub.subscriber_count("t"), 1);
    publish(&hub, "t", big.as_str());
    assert!(slow.lagged(), "the fourth is over 32 KiB");
    assert_eq!(hub.subscriber_count("t"), 0, "Lag::End: it left at once");
    assert_eq!(drain(&mut slow), (vec![], true));
    // Resuming from history is not bounded by the queue.
    let mut again = subscribe(&hub, &["t"], Some(&ids[0].to_string()));
    assert_eq!(drain(&mut again).0.len(), 3);

    // Under Lag::Reset the reset comes first, then what fits.
    let hub = Channels::builder()
        .queue_bytes(32 * 1024)
        .on_lag(Lag::Reset)
        .build();
    let mut slow = subscribe(&hub, &["t"], None);
    let ids: Vec<EventId> = (0..5).map(|_| publish(&hub, "t", big.as_str())).collect();
    let got = drain(&mut slow).0;
    assert!(got[0].is_reset());
    // The fourth overflowed: the reset stands at it, the fifth follows.
    assert_eq!((got[0].data(), got[0].id()), ("lagged".into(), &ids[3]));
    assert_eq!(seqs(&got[1..]), seqs_of(&ids[4..]));

    // A single event larger than the bound still goes through an empty queue.
    let huge = "y".repeat(100 * 1024);
    let id = publish(&hub, "t", huge.as_str());
    let got = drain(&mut slow).0;
    assert_eq!(seqs(&got), [id.sequence()]);
    assert_eq!(got[0].data().len(), huge.len());
}

#[test]
fn one_event_larger_than_the_history_keeps_the_others_replayable() {
    let hub = Channels::builder().history_bytes(1024).build();
    let a = publish(&hub, "t", "a");
    let b = publish(&hub, "t", "b");
    let mut live = subscribe(&hub, &["t"], None);
    let big = publish(&hub, "t", "x".repeat(2000));
    let c = publish(&hub, "t", "c");
    // Delivered live.
    assert_eq!(seqs(&drain(&mut live).0), seqs_of(&[big, c]));

    // A resume that needs the big event is told it is gone...
    for before in [&a, &b] {
        let mut sub = subscribe(&hub, &["t"], Some(&before.to_string()));
        let got = drain(&mut sub).0;
        assert_eq!(got.len(), 1);
        assert!(got[0].is_reset());
        assert_eq!(got[0].data(), "trimmed");
    }
    // ...one from the big event on is exact, and fresh clients still get the history.
    let mut sub = subscribe(&hub, &["t"], Some(&big.to_string()));
    assert_eq!(seqs(&drain(&mut sub).0), [c.sequence()]);
    let hub2 = Channels::builder()
        .history_bytes(1024)
        .replay_last(10)
        .build();
    publish(&hub2, "t", "a");
    publish(&hub2, "t", "x".repeat(2000));
    let mut fresh = subscribe(&hub2, &["t"], None);
    let got = drain(&mut fresh).0;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data(), "a");
}

#[test]
fn many_topics_merge_in_id_order() {
    // Topics published in a scattered order; the subscription hands them out by id, and a
    // duplicate topic counts once.
    let names: Vec<String> = (0..5_000).map(|i| format!("room/{i}")).collect();
    let mut topics: Vec<&str> = names.iter().map(String::as_str).collect();
    topics.push("room/7");
    let hub = Channels::builder().replay_last(3).build();
    publish(&hub, "room/4999", "old-1");
    publish(&hub, "room/0", "old-2");
    publish(&hub, "room/17", "old-3");
    publish(&hub, "room/2", "old-4");
    let mut sub = subscribe(&hub, &topics, None);
    assert_eq!(hub.subscriber_count("room/7"), 1);
    let mut ids = Vec::new();
    for i in (0..5_000).rev().step_by(7) {
        ids.push(publish(&hub, &names[i], i.to_string()));
    }
    let got = drain(&mut sub).0;
    let data: Vec<String> = got.iter().take(3).map(|e| e.data().into_owned()).collect();
    assert_eq!(
        data,
        ["old-2", "old-3", "old-4"],
        "replay_last across topics"
    );
    assert_eq!(seqs(&got[3..]), seqs_of(&ids));
    drop(sub);
    assert_eq!(hub.subscriber_count("room/7"), 0);
    // room/4999 was published to twice.
    assert_eq!(hub.topic_count(), 3 + ids.len());
}

#[test]
fn the_hub_stays_within_its_memory_budget_and_says_what_it_evicted() {
    const BUDGET: usize = 256 * 1024;
    let hub = Channels::builder().memory_budget(BUDGET).build();
    // A room with a subscriber, and one published to all along, stay.
    let mut watched = subscribe(&hub, &["watched"], None);
    let first_watched = publish(&hub, "watched", "w0");
    let second_watched = publish(&hub, "watched", "w1");
    let mut first = None;
    let mut busy = Vec::new();
    for i in 0..20_000 {
        let id = publish(&hub, &format!("room/{i}"), "0123456789abcdef");
        first.get_or_insert(id);
        if i % 100 == 0 {
            busy.push(publish(&hub, "busy", i.to_string()));
        }
        assert!(
            hub.memory_used() <= BUDGET,
            "{} bytes at {i}",
            hub.memory_used()
        );
    }
    assert!(
        hub.topic_count() < 2_000,
        "{} topics left in 256 KiB",
        hub.topic_count()
    );
    // The oldest rooms went: a client resuming there is told.
    let mut sub = subscribe(&hub, &["room/0"], Some(&first.unwrap().to_string()));
    let got = drain(&mut sub).0;
    assert_eq!(got.len(), 1);
    assert!(got[0].is_reset());
    assert_eq!(got[0].data(), "trimmed");
    // So is one resuming in the watched room (its history went, its subscriber stayed).
    let mut again = subscribe(&hub, &["watched"], Some(&first_watched.to_string()));
    assert!(drain(&mut again).0[0].is_reset());
    assert_eq!(
        seqs(&drain(&mut watched).0),
        seqs_of(&[first_watched, second_watched])
    );
    assert_eq!(hub.subscriber_count("watched"), 2);
    // The busy room keeps its recent history: a resume there is exact.
    let from = busy[busy.len() - 3];
    let mut sub = subscribe(&hub, &["busy"], Some(&from.to_string()));
    assert_eq!(seqs(&drain(&mut sub).0), seqs_of(&busy[busy.len() - 2..]));
    // Publishing goes on.
    let id = publish(&hub, "watched", "still here");
    assert_eq!(seqs(&drain(&mut watched).0), [id.sequence()]);

    // With every subscriber gone, topics with no history take nothing.
    drop((watched, again, sub));
    let small = Channels::builder().history_events(0).build();
    for i in 0..1_000 {
        publish(&small, &format!("room/{i}"), "x");
    }
    assert_eq!((small.topic_count(), small.memory_used()), (0, 0));
}
