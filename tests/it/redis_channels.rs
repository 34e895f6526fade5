//! `Channels` on a real Redis (one `redis-server` per test, no mock): two hubs connected
//! to it stand for two instances of an app. Publish on one, receive on the other; resume
//! on either; stale ids after Redis lost its data give a reset; outages end in a catch-up.

use crate::common;

use std::time::Duration;

use actix_sse::{ChannelEvent, Channels, Event, Lag, PublishError, Subscription};
use common::redis::RedisServer;

macro_rules! need_redis {
    ($name:expr) => {
        common::redis::require()
    };
}

pub(crate) async fn next(sub: &mut Subscription) -> ChannelEvent {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an event within 10 s")
        .expect("the subscription goes on")
}

/// Nothing arrives for a moment (nothing duplicated, nothing extra).
async fn quiet(sub: &mut Subscription) {
    if let Ok(ev) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
        panic!("unexpected {ev:?}");
    }
}

pub(crate) fn data(ev: &ChannelEvent) -> String {
    ev.data().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_an_event_published_on_one_instance_reaches_the_other_and_resumes_there() {
    need_redis!("redis_cross_instance");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();

    let mut on_b = b.subscribe("room", None).await;
    let mut on_a = a.subscribe("room", None).await;
    let first = a.publish("room", "hello").await.unwrap();
    let second = b
        .publish("room", Event::data("two\nlines").event("note"))
        .await
        .unwrap();
    assert!(second.sequence() > first.sequence());
    for sub in [&mut on_a, &mut on_b] {
        let ev = next(sub).await;
        assert_eq!((data(&ev), ev.id()), ("hello".into(), &first));
        let ev = next(sub).await;
        assert_eq!(
            (data(&ev), ev.event_type(), ev.id()),
            ("two\nlines".into(), Some("note"), &second)
        );
    }
    // A client of A reconnects to B with A's id: the rest, then live.
    let mut resumed = b.subscribe("room", &first.to_string()).await;
    let ev = next(&mut resumed).await;
    assert_eq!((data(&ev), ev.id()), ("two\nlines".into(), &second));
    let third = a.publish("room", "three").await.unwrap();
    let ev = next(&mut resumed).await;
    assert_eq!((data(&ev), ev.id()), ("three".into(), &third));
    quiet(&mut resumed).await;
    assert_eq!(b.subscriber_count("room"), 2);
    drop((on_b, resumed));
    assert_eq!(b.subscriber_count("room"), 0);
}

/// What an event looks like on the wire after Redis, live and replayed: exactly the
/// fields it was published with, and its id last. A comment alone, and no field at all,
/// still make a frame of their own.
#[actix_web::test]
async fn redis_events_arrive_with_their_exact_bytes_live_and_replayed() {
    need_redis!("redis_exact");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let before = a.publish("f", "before").await.unwrap();
    let mut live = b.subscribe("f", None).await;
    let events = [
        Event::comment("note"),
        Event::new(),
        Event::data("a\nb")
            .event("e")
            .retry(Duration::from_millis(5)),
        Event::data(""),
    ];
    let mut ids = Vec::new();
    for ev in events {
        ids.push(a.publish("f", ev).await.unwrap());
    }
    let want = format!(
        ": note\nid: {}\n\n\
         id: {}\n\n\
         event: e\nretry: 5\ndata: a\ndata: b\nid: {}\n\n\
         data: \nid: {}\n\n",
        ids[0], ids[1], ids[2], ids[3]
    );
    let mut replayed = b.subscribe("f", &before.to_string()).await;
    for sub in [&mut live, &mut replayed] {
        let mut got = Vec::new();
        for _ in 0..ids.len() {
            got.push(next(sub).await);
        }
        let sse = actix_sse::Sse::from_stream(futures_util::stream::iter(got));
        let mut stream = actix_sse::test::respond(sse, actix_web::test::TestRequest::default());
        assert_eq!(stream.text().await, want);
    }
}

/// Publishes that wait while another is on its way go to Redis together, in one call of
/// the publish script; a subscriber of several topics, on either instance, still gets every
/// event once and in the order of the ids, with the data its id was given to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_concurrent_publishes_go_in_batches_and_arrive_once_in_id_order() {
    need_redis!("redis_batches");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let topics = ["x", "y", "z"];
    let mut subs = [
        a.subscribe_many(&topics, None).await,
        b.subscribe_many(&topics, None).await,
        b.subscribe("y", None).await,
    ];
    redis.command(&["CONFIG", "RESETSTAT"]);
    let total = 600;
    let published = futures_util::future::join_all((0..total).map(|i| {
        let a = a.clone();
        async move {
            let topic = topics[i % 3];
            let id = a.publish(topic, format!("e{i}")).await.unwrap();
            (id, topic, format!("e{i}"))
        }
    }))
    .await;
    let stats = redis.command(&["INFO", "commandstats"]);
    let calls: usize = stats
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no EVALSHA in {stats}"));
    assert!(
        calls <= total / 8,
        "{total} concurrent publishes took {calls} calls of the script"
    );
    let mut want = published.clone();
    want.sort_by_key(|(id, ..)| id.sequence());
    want.dedup_by_key(|(id, ..)| id.sequence());
    assert_eq!(want.len(), total, "every publish got its own id");

    for (n, sub) in subs.iter_mut().enumerate() {
        let want: Vec<_> = want
            .iter()
            .filter(|(_, topic, _)| n < 2 || *topic == "y")
            .collect();
        for (id, topic, data) in want {
            let ev = next(sub).await;
            assert_eq!(
                (ev.id(), ev.topic(), self::data(&ev)),
                (id, *topic, data.clone()),
                "subscription {n}"
            );
        }
        quiet(sub).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_resuming_while_events_are_published_gets_each_exactly_once() {
    need_redis!("redis_seam");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let total = 300;
    let publisher = {
        let a = a.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..total {
                ids.push(a.publish("seam", format!("e{i}")).await.unwrap());
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            ids
        })
    };
    // Subscribe on B at several moments, each from the newest id published so far.
    let mut subs = Vec::new();
    while subs.len() < 6 {
        let mut probe = b.subscribe("seam", None).await;
        let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), probe.next()).await else {
            break;
        };
        let from: u64 = data(&ev)[1..].parse().unwrap();
        subs.push((from, b.subscribe("seam", &ev.id().to_string()).await));
        if from + 20 >= total {
            break;
        }
    }
    let ids = publisher.await.unwrap();
    assert!(subs.len() >= 2, "subscribed while publishing");
    for (from, mut sub) in subs {
        for i in from + 1..total {
            let ev = next(&mut sub).await;
            assert_eq!(
                (data(&ev), ev.id()),
                (format!("e{i}"), &ids[i as usize]),
                "resumed after e{from}"
            );
        }
        quiet(&mut sub).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_ids_that_cannot_be_resumed_give_a_reset_never_a_wrong_position() {
    need_redis!("redis_stale_ids");
    let redis = RedisServer::start();
    let hub = Channels::builder()
        .history_events(5)
        .connect_redis(&redis.url())
        .await
        .unwrap();
    let other = Channels::builder()
        .key_prefix("other-app")
        .connect_redis(&redis.url())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..150 {
        ids.push(hub.publish("t", format!("e{i}")).await.unwrap());
    }
    let foreign = other.publish("t", "x").await.unwrap();
    let huge = "9".repeat(64 * 1024);

    // Garbage, huge, another hub's: unknown. Trimmed away: trimmed. Each then goes live.
    for (last, reason) in [
        ("garbage", "unknown-id"),
        (huge.as_str(), "unknown-id"),
        (&foreign.to_string(), "unknown-id"),
        (&ids[0].to_string(), "trimmed"),
    ] {
        let mut sub = hub.subscribe("t", Some(last)).await;
        let reset = next(&mut sub).await;
        assert!(reset.is_reset(), "{reset:?}");
        assert_eq!(
            (reset.event_type(), data(&reset)),
            (Some("reset"), reason.into())
        );
        assert_eq!(
            reset.id(),
            ids.last().unwrap(),
            "the reset is at the newest position"
        );
        let live = hub.publish("t", "live").await.unwrap();
        let ev = next(&mut sub).await;
        assert_eq!((data(&ev), ev.id()), ("live".into(), &live));
        ids.push(live);
    }
    // Still in history: exact.
    let n = ids.len();
    let mut sub = hub.subscribe("t", &ids[n - 3].to_string()).await;
    assert_eq!(next(&mut sub).await.id(), &ids[n - 2]);
    assert_eq!(next(&mut sub).await.id(), &ids[n - 1]);
    drop(sub);

    // The stream's key deleted: its loss is on record.
    let before = hub.publish("gone", "x").await.unwrap();
    assert_eq!(redis.command(&["DEL", "actix-sse:history:gone"]), ":1\r\n");
    let mut sub = hub.subscribe("gone", &ids[n - 1].to_string()).await;
    let reset = next(&mut sub).await;
    assert_eq!((reset.is_reset(), data(&reset)), (true, "trimmed".into()));
    drop(sub);
    // Everything seen: nothing lost, nothing to replay.
    let mut sub = hub.subscribe("gone", &before.to_string()).await;
    let live = hub.publish("gone", "y").await.unwrap();
    assert_eq!(next(&mut sub).await.id(), &live);
    drop(sub);

    // FLUSHALL: a new epoch. Live subscribers get a reset before the next event; an id
    // from before is unknown.
    let mut live_sub = hub.subscribe("t", None).await;
    assert_eq!(redis.command(&["FLUSHALL"]), "+OK\r\n");
    let fresh = hub.publish("t", "after flush").await.unwrap();
    assert_ne!(
        fresh.to_string().split('-').next(),
        ids[0].to_string().split('-').next()
    );
    let reset = next(&mut live_sub).await;
    assert!(reset.is_reset(), "{reset:?}");
    let ev = next(&mut live_sub).await;
    assert_eq!((data(&ev), ev.id()), ("after flush".into(), &fresh));
    let mut sub = hub.subscribe("t", &ids[n - 1].to_string()).await;
    let reset = next(&mut sub).await;
    assert_eq!(
        (reset.is_reset(), data(&reset)),
        (true, "unknown-id".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_history_by_age_and_a_refused_event_stores_nothing() {
    need_redis!("redis_age");
    let redis = RedisServer::start();
    let hub = Channels::builder()
        .history_age(Duration::from_millis(200))
        .connect_redis(&redis.url())
        .await
        .unwrap();
    let old = hub.publish("t", "old").await.unwrap();
    let older = hub.publish("t", "older").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sub = hub.subscribe("t", &old.to_string()).await;
    let reset = next(&mut sub).await;
    assert_eq!((reset.is_reset(), data(&reset)), (true, "trimmed".into()));
    assert_eq!(reset.id(), &older);

    // Refused before Redis sees it: no id is used up.
    let err = hub
        .publish("t", Event::data("x").event("bad\nname"))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::Invalid(_)), "{err}");
    let next_id = hub.publish("t", "fine").await.unwrap();
    assert_eq!(next_id.sequence(), older.sequence() + 1);
    let serialized = hub
        .publish_serialized("t", &[1, 2], &actix_sse::Json, Event::new().event("nums"))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.id(), &next_id);
    let ev = next(&mut sub).await;
    assert_eq!(
        (data(&ev), ev.event_type(), ev.id()),
        ("[1,2]".into(), Some("nums"), &serialized)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_subscriber_that_falls_behind_ends_and_resumes_from_history() {
    need_redis!("redis_lag");
    let redis = RedisServer::start();
    let hub = Channels::builder()
        .queue(4)
        .connect_redis(&redis.url())
        .await
        .unwrap();
    let mut slow = hub.subscribe("t", None).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(hub.publish("t", format!("e{i}")).await.unwrap());
    }
    // Not read until its queue has overflowed: on a loaded machine the relay may hand the
    // events over slowly enough for a reader to keep up, and then nothing overflows.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hub.subscriber_count("t") != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow subscriber's queue never overflowed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        let mut got = 0;
        while slow.next().await.is_some() {
            got += 1;
        }
        got
    })
    .await
    .expect("the subscription ends");
    assert!(end <= 4, "{end} events before the end");
    assert!(slow.lagged());
    assert_eq!(
        hub.subscriber_count("t"),
        0,
        "a lagged subscriber is forgotten"
    );
    // Its client reconnects from what it had: nothing lost.
    let mut again = hub.subscribe("t", &ids[3].to_string()).await;
    for id in &ids[4..] {
        assert_eq!(next(&mut again).await.id(), id);
    }

    let reset_hub = Channels::builder()
        .queue(4)
        .on_lag(Lag::Reset)
        .key_prefix("reset-hub")
        .connect_redis(&redis.url())
        .await
        .unwrap();
    let mut slow = reset_hub.subscribe("t", None).await;
    let mut last = None;
    for i in 0..10 {
        last = Some(reset_hub.publish("t", format!("e{i}")).await.unwrap());
    }
    // Let the relay deliver all ten before reading.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reset = next(&mut slow).await;
    assert_eq!((reset.is_reset(), data(&reset)), (true, "lagged".into()));
    let live = reset_hub.publish("t", "after").await.unwrap();
    let ev = next(&mut slow).await;
    assert!(ev.id().sequence() > last.unwrap().sequence() - 4, "{ev:?}");
    let mut ev = ev;
    while ev.id() != &live {
        ev = next(&mut slow).await;
    }
}

/// Publishes until Redis takes it again (bounded).
async fn publish_when_back(hub: &Channels, topic: &str, text: &str) -> actix_sse::EventId {
    let start = std::time::Instant::now();
    loop {
        match hub.publish(topic, text).await {
            Ok(id) => return id,
            Err(err) => {
                assert!(
                    start.elapsed() < Duration::from_secs(15),
                    "Redis not back: {err}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_after_a_redis_restart_with_persistence_streams_go_on_where_they_were() {
    need_redis!("redis_restart_persistent");
    let mut redis = RedisServer::start_persistent();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let mut sub = b.subscribe("t", None).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(a.publish("t", format!("e{i}")).await.unwrap());
    }
    for id in &ids {
        assert_eq!(next(&mut sub).await.id(), id);
    }

    redis.kill();
    // Publishing fails while Redis is away, with an error, within the timeout.
    let started = std::time::Instant::now();
    let err = a.publish("t", "lost").await.unwrap_err();
    assert!(matches!(err, PublishError::Backend(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    redis.restart();

    // Published before B's relay is back: it reads them from the history when it is.
    for i in 3..6 {
        ids.push(publish_when_back(&a, "t", &format!("e{i}")).await);
    }
    for (i, id) in ids.iter().enumerate().skip(3) {
        let ev = next(&mut sub).await;
        assert_eq!((data(&ev), ev.id()), (format!("e{i}"), id));
    }
    let live = a.publish("t", "live").await.unwrap();
    assert_eq!(next(&mut sub).await.id(), &live);
    quiet(&mut sub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_after_redis_lost_everything_subscribers_get_a_reset_then_live_events() {
    need_redis!("redis_restart_empty");
    let mut redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let mut sub = b.subscribe("t", None).await;
    let old = a.publish("t", "before").await.unwrap();
    assert_eq!(next(&mut sub).await.id(), &old);

    redis.kill();
    // A client that reconnects meanwhile waits (its stream stays open) until Redis is back.
    let b2 = b.clone();
    let old_text = old.to_string();
    let waiting = tokio::spawn(async move { b2.subscribe("t", &old_text).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    redis.restart();

    let fresh = publish_when_back(&a, "t", "after").await;
    let reset = next(&mut sub).await;
    assert_eq!(
        (reset.is_reset(), data(&reset)),
        (true, "unknown-id".into())
    );
    let ev = next(&mut sub).await;
    assert_eq!((data(&ev), ev.id()), ("after".into(), &fresh));

    let mut resumed = waiting.await.unwrap();
    let reset = next(&mut resumed).await;
    assert_eq!(
        (reset.is_reset(), data(&reset)),
        (true, "unknown-id".into())
    );
    let live = a.publish("t", "live").await.unwrap();
    let mut ev = next(&mut resumed).await;
    if ev.id() == &fresh {
        ev = next(&mut resumed).await;
    }
    assert_eq!(ev.id(), &live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_frozen_redis_fails_publishes_and_nothing_acknowledged_is_lost() {
    need_redis!("redis_sigstop");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let mut sub = b.subscribe("t", None).await;
    let first = a.publish("t", "e0").await.unwrap();

    redis.freeze(true);
    let started = std::time::Instant::now();
    let err = a.publish("t", "maybe").await.unwrap_err();
    assert!(matches!(err, PublishError::Backend(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    redis.freeze(false);

    let second = publish_when_back(&a, "t", "e1").await;
    // Every acknowledged event arrives once, in order. The one that failed may or may not
    // have been stored (its reply was lost): if it was, it arrives too, in its place.
    let mut got = vec![next(&mut sub).await];
    while got.last().unwrap().id() != &second {
        got.push(next(&mut sub).await);
    }
    let texts: Vec<String> = got.iter().map(data).collect();
    assert!(
        texts == ["e0", "e1"] || texts == ["e0", "maybe", "e1"],
        "{texts:?}"
    );
    assert_eq!(got[0].id(), &first);
    quiet(&mut sub).await;
}

/// Publishes queue for their call (at most 1,024 an instance; more publishers wait for room),
/// and when Redis does not answer, those queued fail with the call that timed out instead
/// of each waiting for its own: 2,000 publishes to a frozen Redis all fail within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_publishes_queued_for_a_frozen_redis_fail_together_and_promptly() {
    need_redis!("redis_sigstop_queue");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    a.publish("t", "before").await.unwrap();
    redis.freeze(true);
    let started = std::time::Instant::now();
    let results = futures_util::future::join_all((0..2000).map(|i| {
        let a = a.clone();
        async move { a.publish("t", format!("e{i}")).await }
    }))
    .await;
    let elapsed = started.elapsed();
    redis.freeze(false);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(PublishError::Backend(_)))),
        "every publish fails while Redis is frozen"
    );
    // Without failing the queue together: 2,000 / 64 calls of 2 s each, over a minute.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    publish_when_back(&a, "t", "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_one_pub_sub_subscription_per_instance_whatever_its_subscribers() {
    need_redis!("redis_one_connection");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let numsub = || redis.command(&["PUBSUB", "NUMSUB", "actix-sse:live:t"]);
    let clients = || redis.command(&["CLIENT", "LIST"]).lines().count();
    let before = clients();
    let mut subs = Vec::new();
    for _ in 0..50 {
        subs.push(b.subscribe("t", None).await);
    }
    subs.push(a.subscribe("t", None).await);
    assert!(numsub().ends_with(":2\r\n"), "{}", numsub());
    assert_eq!(clients(), before, "no connection per subscriber");
    let id = a.publish("t", "once").await.unwrap();
    for sub in &mut subs {
        assert_eq!(next(sub).await.id(), &id);
    }
    drop(subs);
    // The last local subscriber gone, the instance stops listening.
    let start = std::time::Instant::now();
    while !numsub().ends_with(":0\r\n") {
        assert!(start.elapsed() < Duration::from_secs(5), "{}", numsub());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.topic_count(), 0);
}

#[tokio::test]
async fn redis_connecting_to_an_unreachable_redis_is_an_error() {
    let port = common::free_port();
    // Nothing listens there: the hub is refused at start-up, not at the first publish.
    let err = Channels::redis(&format!("redis://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("redis: "), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_idle_topics_expire_from_redis_and_a_resume_across_the_expiry_resets() {
    need_redis!("redis_topic_ttl");
    let redis = RedisServer::start();
    const TTL: Duration = Duration::from_secs(2);
    let hub = Channels::builder()
        .topic_ttl(TTL)
        .connect_redis(&redis.url())
        .await
        .unwrap();
    let topic_keys = |redis: &RedisServer| -> usize {
        let count = "return #redis.call('KEYS', ARGV[1])";
        let reply = redis.command(&["EVAL", count, "0", "actix-sse:*:room-*"]);
        reply.trim_start_matches(':').trim_end().parse().unwrap()
    };
    // 200 rooms, one event each: two keys per room.
    let mut first = Vec::new();
    for i in 0..200 {
        first.push(hub.publish(&format!("room-{i}"), "x").await.unwrap());
    }
    let held = hub.publish("room-0", "second").await.unwrap();
    assert_eq!(topic_keys(&redis), 400);

    // A busy room stays; the idle ones go, keys and all (bounded wait).
    let start = std::time::Instant::now();
    let mut busy = Vec::new();
    while topic_keys(&redis) > 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} keys left",
            topic_keys(&redis)
        );
        busy.push(hub.publish("room-busy", "tick").await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(topic_keys(&redis), 2, "only the busy room's keys");

    // A client that saw only room-0's first event resumes after the expiry: what it
    // missed ("second") is gone, and it is told.
    let mut sub = hub.subscribe("room-0", &first[0].to_string()).await;
    let reset = next(&mut sub).await;
    assert_eq!((reset.is_reset(), data(&reset)), (true, "trimmed".into()));
    // The room is published to again: created afresh, the old position still resets...
    let again = hub.publish("room-0", "again").await.unwrap();
    assert_eq!(next(&mut sub).await.id(), &again);
    drop(sub);
    let mut sub = hub.subscribe("room-0", &held.to_string()).await;
    assert!(next(&mut sub).await.is_reset());
    drop(sub);
    // ...while a position from within the expiry resumes exactly, in a new room or the
    // busy one.
    let recent = busy[busy.len() - 2];
    let mut sub = hub.subscribe("room-busy", &recent.to_string()).await;
    assert_eq!(next(&mut sub).await.id(), busy.last().unwrap());
    drop(sub);
    let mut sub = hub.subscribe("room-0", &again.to_string()).await;
    let live = hub.publish("room-0", "live").await.unwrap();
    assert_eq!(next(&mut sub).await.id(), &live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_topic_record_lost_alone_gives_a_reset_not_a_gap() {
    need_redis!("redis_meta_lost");
    let redis = RedisServer::start();
    // "Never expire" in practice, and a short history.
    let hub = Channels::builder()
        .topic_ttl(Duration::MAX)
        .history_events(3)
        .connect_redis(&redis.url())
        .await
        .unwrap();
    // One at a time: each is an entry of the history of its own.
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(hub.publish("t", i.to_string()).await.unwrap());
    }
    // The record of what the history lost goes (as `maxmemory` eviction can), the history
    // stays: a resume from before its first entry is told, one from within it is exact.
    assert_eq!(redis.command(&["DEL", "actix-sse:topic:t"]), ":1\r\n");
    let mut sub = hub.subscribe("t", &ids[1].to_string()).await;
    let reset = next(&mut sub).await;
    assert_eq!((reset.is_reset(), data(&reset)), (true, "trimmed".into()));
    drop(sub);
    let mut sub = hub.subscribe("t", &ids[7].to_string()).await;
    assert_eq!(next(&mut sub).await.id(), &ids[8]);
    assert_eq!(next(&mut sub).await.id(), &ids[9]);
    drop(sub);
    // Publishing again records the loss anew.
    let more = hub.publish("t", "more").await.unwrap();
    let mut sub = hub.subscribe("t", &ids[1].to_string()).await;
    assert!(next(&mut sub).await.is_reset());
    let live = hub.publish("t", "live").await.unwrap();
    assert_eq!(next(&mut sub).await.id(), &live);
    assert!(live.sequence() > more.sequence());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_the_hub_record_lost_alone_moves_to_a_new_epoch_and_publishing_goes_on() {
    need_redis!("redis_hub_lost");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let mut sub = b.subscribe("t", None).await;
    let before = published_and_received(&a, &mut sub, 5).await;
    a.publish("other", "elsewhere").await.unwrap();

    // The counter and its epoch go together (`DEL`, or `maxmemory` eviction), the topics'
    // histories stay. Publishing to an existing topic works at once (it used to fail until
    // the counter passed the history's newest position), in a new epoch: no id repeats.
    assert_eq!(redis.command(&["DEL", "actix-sse:hub"]), ":1\r\n");
    let after = a.publish("t", "new").await.unwrap();
    assert_ne!(epoch_of(&after), epoch_of(&before[0]));
    assert!(before.iter().all(|id| id.to_string() != after.to_string()));
    let other = a.publish("other", "new elsewhere").await.unwrap();
    assert_eq!(epoch_of(&other), epoch_of(&after));

    // The live subscriber is told, then goes on.
    let reset = next(&mut sub).await;
    assert_eq!(
        (reset.is_reset(), data(&reset)),
        (true, "unknown-id".into())
    );
    let ev = next(&mut sub).await;
    assert_eq!((ev.id(), data(&ev)), (&after, "new".into()));

    // A client with an id from before is told, never replayed the old epoch's history.
    let mut resumed = b.subscribe("t", &before[2].to_string()).await;
    let reset = next(&mut resumed).await;
    assert_eq!(
        (reset.is_reset(), data(&reset)),
        (true, "unknown-id".into())
    );
    quiet(&mut resumed).await;
    // One of the new epoch resumes exactly; the old history is not in it.
    let mut exact = b.subscribe("t", &after.to_string()).await;
    quiet(&mut exact).await;
    let live = a.publish("t", "live").await.unwrap();
    assert_eq!(next(&mut exact).await.id(), &live);
    assert_eq!(next(&mut resumed).await.id(), &live);
    let mut from_start = b
        .subscribe_many(&["t"], &format!("{}-0", epoch_of(&after)))
        .await;
    let ev = next(&mut from_start).await;
    assert_eq!((ev.id(), data(&ev)), (&after, "new".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_counter_that_went_back_never_hands_out_a_seen_id_again() {
    need_redis!("redis_counter_back");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let mut sub = b.subscribe("t", None).await;
    let before = published_and_received(&a, &mut sub, 6).await;

    // What a failover to a replica that was behind (or a crash with `appendfsync
    // everysec`) leaves: the same epoch, an older counter. Positions 4..=6 were handed out
    // and delivered; a Redis that forgot them must not name other events with them.
    let hub_seq = before[2].sequence().to_string();
    assert_eq!(
        redis.command(&["HSET", "actix-sse:hub", "seq", &hub_seq]),
        ":0\r\n"
    );
    let after = a.publish("t", "after the loss").await.unwrap();
    assert_ne!(
        epoch_of(&after),
        epoch_of(&before[0]),
        "a new epoch, not {after}"
    );
    assert!(before.iter().all(|id| id.to_string() != after.to_string()));

    // Subscribers are told that events may be missing, then get the new ones.
    let reset = next(&mut sub).await;
    assert_eq!(
        (reset.is_reset(), data(&reset)),
        (true, "unknown-id".into())
    );
    assert_eq!(next(&mut sub).await.id(), &after);
    // A client holding a lost position is told too, whichever instance it reaches.
    for hub in [&a, &b] {
        let mut resumed = hub.subscribe("t", &before[5].to_string()).await;
        let reset = next(&mut resumed).await;
        assert_eq!(
            (reset.is_reset(), data(&reset)),
            (true, "unknown-id".into())
        );
        quiet(&mut resumed).await;
    }
    // The other instance publishes in the new epoch too.
    let from_b = b.publish("t", "from b").await.unwrap();
    assert_eq!(epoch_of(&from_b), epoch_of(&after));
    assert!(from_b.sequence() > after.sequence());
}

/// `n` events published on `a`, each received by `sub` (on another instance) in order.
async fn published_and_received(
    a: &Channels,
    sub: &mut Subscription,
    n: usize,
) -> Vec<actix_sse::EventId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = a.publish("t", format!("before {i}")).await.unwrap();
        assert_eq!(next(sub).await.id(), &id);
        ids.push(id);
    }
    ids
}

/// The `{epoch}` part of an id.
fn epoch_of(id: &actix_sse::EventId) -> String {
    let text = id.to_string();
    text[..text.rfind('-').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sentinel_finds_the_master_and_follows_a_failover() {
    need_redis!("redis_sentinel");
    let (master, replica, sentinel) = sentinel_topology().await;
    let url = format!(
        "redis+sentinel://127.0.0.1:1,127.0.0.1:{}/mymaster",
        sentinel.port
    );
    // The first sentinel address answers nothing: the next one is asked.
    let a = Channels::redis(&url).await.unwrap();
    let b = Channels::redis(&url).await.unwrap();
    let mut sub = b.subscribe("t", None).await;
    let before = published_and_received(&a, &mut sub, 3).await;
    // Acknowledged by the replica too (with asynchronous replication a failover can lose
    // writes; that case is the counter going back, tested above).
    assert_eq!(master.command(&["WAIT", "1", "2000"]), ":1\r\n");

    // A failover, as an operator or a dying master triggers it. The sentinel needs a
    // moment to know the replica: it may refuse at first.
    let start = std::time::Instant::now();
    while !sentinel
        .command(&["SENTINEL", "FAILOVER", "mymaster"])
        .starts_with("+OK")
    {
        assert!(start.elapsed() < Duration::from_secs(20), "no failover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Once the sentinel names the new master (a publish acknowledged by the old one in
    // the meantime could be lost with its demotion: the fault suite's part)..
    let start = std::time::Instant::now();
    while !sentinel
        .command(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
        .contains(&replica.port.to_string())
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the failover never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ..publishes fail while the old connection finds out, then succeed on the new one.
    let start = std::time::Instant::now();
    let after = loop {
        match a.publish("t", "after").await {
            Ok(id) => break id,
            Err(_) => {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "never published again"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert!(
        replica.command(&["ROLE"]).contains("master"),
        "the replica is the master now"
    );
    assert!(after.sequence() > before[2].sequence());
    // The open stream stayed open and goes on, with nothing lost and nothing twice.
    assert_eq!(next(&mut sub).await.id(), &after);
    let live = b.publish("t", "live").await.unwrap();
    assert_eq!(next(&mut sub).await.id(), &live);
    // And a client resumes on the new master from a position of the old one.
    let mut resumed = a.subscribe("t", &before[1].to_string()).await;
    for id in [&before[2], &after, &live] {
        assert_eq!(next(&mut resumed).await.id(), id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_relay_that_finds_the_counter_behind_moves_the_hub_to_a_new_epoch() {
    need_redis!("redis_relay_counter_back");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let mut sub = b.subscribe("t", None).await;
    let before = published_and_received(&a, &mut sub, 6).await;
    // The counter goes back (writes lost in a failover), and every connection drops, as a
    // failover drops them. The publishing instance is gone: only b's relay saw the lost
    // positions.
    drop(a);
    let behind = before[2].sequence().to_string();
    assert_eq!(
        redis.command(&["HSET", "actix-sse:hub", "seq", &behind]),
        ":0\r\n"
    );
    redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);

    // b's relay reconnects, finds the counter behind what it delivered: its subscribers
    // are told, and the hub moves to a new epoch.
    let reset = next(&mut sub).await;
    assert_eq!(
        (reset.is_reset(), data(&reset)),
        (true, "unknown-id".into())
    );
    // So an instance that saw nothing (started now) cannot hand out a seen id again.
    let c = Channels::redis(&redis.url()).await.unwrap();
    let fresh = c.publish("t", "after").await.unwrap();
    assert_ne!(epoch_of(&fresh), epoch_of(&before[0]));
    assert!(before.iter().all(|id| id.to_string() != fresh.to_string()));
    assert_eq!(next(&mut sub).await.id(), &fresh);
    // A client holding a lost position is told, now and after the counter passes it.
    for i in 0..6 {
        c.publish("t", format!("more {i}")).await.unwrap();
    }
    let mut resumed = b.subscribe("t", &before[5].to_string()).await;
    let reset = next(&mut resumed).await;
    assert_eq!(
        (reset.is_reset(), data(&reset)),
        (true, "unknown-id".into())
    );
}

/// A failover back to a server still in an epoch the hub has since left (a replica that
/// missed the move to a new epoch, then promoted): its history holds events delivered
/// already. The relay does not replay them, and no id of that epoch is handed out again:
/// the subscriber gets a reset, then what is published next, in a new epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_server_still_in_an_epoch_left_is_not_resumed_into() {
    need_redis!("redis_stale_epoch");
    let redis = RedisServer::start();
    let a = Channels::redis(&redis.url()).await.unwrap();
    let b = Channels::redis(&redis.url()).await.unwrap();
    let mut sub = b.subscribe("t", None).await;
    let old = published_and_received(&a, &mut sub, 3).await;
    // What a replica held back from now on keeps.
    for key in ["history", "topic"] {
        let (live, kept) = (format!("actix-sse:{key}:t"), format!("stale:{key}"));
        assert_eq!(redis.command(&["COPY", &live, &kept]), ":1\r\n");
    }
    // The counter goes back on the master: the hub moves to a new epoch.
    redis.command(&["HSET", "actix-sse:hub", "seq", "0"]);
    let moved = a.publish("t", "moved").await.unwrap();
    assert_ne!(epoch_of(&moved), epoch_of(&old[0]));
    assert!(next(&mut sub).await.is_reset());
    assert_eq!(next(&mut sub).await.id(), &moved);

    // The held-back replica is promoted: the old epoch's state is back, and every
    // Pub/Sub connection drops, as a failover drops them.
    redis.command(&["DEL", "actix-sse:history:t", "actix-sse:topic:t"]);
    for key in ["history", "topic"] {
        let (live, kept) = (format!("actix-sse:{key}:t"), format!("stale:{key}"));
        assert_eq!(redis.command(&["COPY", &kept, &live]), ":1\r\n");
    }
    let seq = old[2].sequence().to_string();
    redis.command(&[
        "HSET",
        "actix-sse:hub",
        "epoch",
        &epoch_of(&old[0]),
        "seq",
        &seq,
    ]);
    redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);

    // b's relay reconnects: a reset, and none of the old epoch's events again.
    let reset = next(&mut sub).await;
    assert!(reset.is_reset(), "{} {}", reset.id(), data(&reset));
    let fresh = a.publish("t", "fresh").await.unwrap();
    for before in [&old[0], &moved] {
        assert_ne!(epoch_of(&fresh), epoch_of(before));
    }
    let ev = next(&mut sub).await;
    assert_eq!((ev.id(), data(&ev)), (&fresh, "fresh".to_owned()));
    quiet(&mut sub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_with_replicas_a_publish_is_acknowledged_once_a_replica_holds_it() {
    need_redis!("redis_replicas");
    let master = RedisServer::start();
    let mut replica = RedisServer::start_replica_of(master.port);
    master.wait_for_replica().await;
    let hub = Channels::builder()
        .replicas(1, Duration::from_millis(1500))
        .connect_redis(&master.url())
        .await
        .unwrap();
    let id = hub.publish("t", "replicated").await.unwrap();
    // It is on the replica when the publish returns.
    let stream = replica.command(&["XLEN", "actix-sse:history:t"]);
    assert_eq!(stream, ":1\r\n", "{id}");
    // The first waited for the replica's first acknowledgement (it sends one a second);
    // from then on each waits a round trip, not the timeout.
    let started = std::time::Instant::now();
    for _ in 0..10 {
        hub.publish("t", "replicated").await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // No replica: the publish is refused after the wait, not acknowledged.
    replica.kill();
    let started = std::time::Instant::now();
    let refused = hub.publish("t", "not replicated").await;
    assert!(
        matches!(refused, Err(actix_sse::PublishError::Backend(_))),
        "{refused:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

/// A master, its replica (in sync) and a sentinel watching them.
async fn sentinel_topology() -> (RedisServer, RedisServer, common::redis::Sentinel) {
    let master = RedisServer::start();
    let replica = RedisServer::start_replica_of(master.port);
    master.wait_for_replica().await;
    let sentinel = common::redis::Sentinel::start(master.port);
    (master, replica, sentinel)
}
