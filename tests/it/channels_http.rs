//! Channels through `#[sse]` handlers on a real server, read by the independent parser:
//! resume after a disconnect gets exactly the missed events, an unknown id gets a reset,
//! and a client that leaves leaves no subscriber behind.

use crate::common;

use std::time::{Duration, Instant};

use actix_sse::{prelude::*, Stream};
use actix_web::{web, App};
use common::{events, within, Parsed};
use futures_util::StreamExt;

/// Stream style: the subscription is the stream.
#[sse("/chat")]
async fn chat(hub: web::Data<Channels>, last: LastEventId) -> impl Stream<Item = ChannelEvent> {
    hub.subscribe("chat", &last).await
}

/// Push style: its own event first, then everything from the topic.
#[sse("/push")]
async fn push(hub: web::Data<Channels>, last: LastEventId) {
    let mut sub = hub.subscribe("chat", &last).await;
    send!("hello", event = "greeting");
    while let Some(event) = sub.next().await {
        send!(event);
    }
}

async fn wait_for_subscribers(hub: &Channels, n: usize) {
    let start = Instant::now();
    while hub.subscriber_count("chat") != n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{} subscribers, expected {n}",
            hub.subscriber_count("chat")
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn said(ev: &Parsed) -> (&str, &str) {
    (ev.event.as_str(), ev.data.as_str())
}

#[actix_web::test]
async fn resume_after_a_disconnect_gets_exactly_the_missed_events() {
    let hub = Channels::new();
    let h = hub.clone();
    let (addr, _srv) = serve!(
        move || App::new()
            .app_data(web::Data::new(h.clone()))
            .service(chat)
            .service(push),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    let url = format!("http://{addr}/chat");

    let (_, _, mut evs) = events(&url, &[]).await;
    wait_for_subscribers(&hub, 1).await;
    for i in 0..3 {
        hub.publish("chat", format!("m{i}")).await.unwrap();
    }
    let mut last = String::new();
    for i in 0..3 {
        let ev = within(5, "live event", evs.next()).await.unwrap();
        assert_eq!(said(&ev), ("message", format!("m{i}").as_str()));
        last = ev.id;
    }
    drop(evs);
    wait_for_subscribers(&hub, 0).await;

    // Published while the client was away.
    let missed_ids = [
        hub.publish("chat", "m3").await.unwrap().to_string(),
        hub.publish("chat", Event::data("m4").event("note"))
            .await
            .unwrap()
            .to_string(),
    ];
    let (_, _, mut evs) = events(&url, &[("last-event-id", last.as_bytes())]).await;
    let m3 = within(5, "replayed m3", evs.next()).await.unwrap();
    assert_eq!(
        (said(&m3), m3.id.as_str()),
        (("message", "m3"), missed_ids[0].as_str())
    );
    let m4 = within(5, "replayed m4", evs.next()).await.unwrap();
    assert_eq!(
        (said(&m4), m4.id.as_str()),
        (("note", "m4"), missed_ids[1].as_str())
    );
    wait_for_subscribers(&hub, 1).await;
    hub.publish("chat", "m5").await.unwrap();
    let m5 = within(5, "live m5", evs.next()).await.unwrap();
    assert_eq!(
        said(&m5),
        ("message", "m5"),
        "no duplicate at the seam, then live"
    );
    drop(evs);

    // An id this hub never gave: a reset at the newest position, then live.
    let (_, _, mut evs) = events(&url, &[("last-event-id", b"garbage-42")]).await;
    let reset = within(5, "reset", evs.next()).await.unwrap();
    assert_eq!(said(&reset), ("reset", "unknown-id"));
    assert_eq!(reset.id, m5.id);
    drop(evs);

    // Push style: its own greeting, then the replay after m3, then live.
    let push_url = format!("http://{addr}/push");
    let (_, _, mut evs) = events(&push_url, &[("last-event-id", m3.id.as_bytes())]).await;
    let got: Vec<_> = within(5, "push style", (&mut evs).take(3).collect::<Vec<_>>()).await;
    let got: Vec<_> = got.iter().map(said).collect();
    assert_eq!(
        got,
        [("greeting", "hello"), ("note", "m4"), ("message", "m5")]
    );
    drop(evs);
    wait_for_subscribers(&hub, 0).await;
    assert_eq!(hub.topic_count(), 1, "the topic stays while it has history");
}
