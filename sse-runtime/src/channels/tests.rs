//! Exact wire bytes of published frames and reset events (the frame is crate-private, so
//! these live here; behaviour tests are in `tests/channels_*.rs`).

use std::{
    future::Future,
    pin::{pin, Pin},
    sync::Arc,
    task::{Context, Poll, Wake, Waker},
};

use futures_core::Stream;

use super::*;

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn noop() -> Waker {
    Waker::from(Arc::new(Noop))
}

/// Everything in the memory backend completes at once.
fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(&noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the memory backend never waits"),
    }
}

fn next(sub: &mut Subscription) -> Option<ChannelEvent> {
    match Pin::new(sub).poll_next(&mut Context::from_waker(&noop())) {
        Poll::Ready(ev) => ev,
        Poll::Pending => None,
    }
}

fn wire(ev: &ChannelEvent) -> String {
    String::from_utf8(ev.frame().to_vec()).unwrap()
}

#[test]
fn published_frames_carry_the_hub_id() {
    let hub = Channels::new();
    let mut sub = now(hub.subscribe("t", None));

    let a = now(hub.publish("t", "hello\nworld")).unwrap();
    let b = now(hub.publish("t", Event::data("x").event("update").id("mine"))).unwrap();
    let c = now(hub.publish_serialized(
        "t",
        &serde_json::json!({"n": 1}),
        &crate::Json,
        Event::data("ignored")
            .event("json")
            .with_comment("note")
            .id("ignored"),
    ))
    .unwrap();

    let epoch = a.to_string().split_once('-').unwrap().0.to_owned();
    assert_eq!(a.to_string(), format!("{epoch}-1"));
    assert_eq!(b.to_string(), format!("{epoch}-2"));
    assert_eq!(c.to_string(), format!("{epoch}-3"));

    let ev = next(&mut sub).unwrap();
    assert_eq!(
        wire(&ev),
        format!("id: {epoch}-1\ndata: hello\ndata: world\n\n")
    );
    assert_eq!((ev.topic(), ev.id(), ev.event_type()), ("t", &a, None));
    assert_eq!(ev.data(), "hello\nworld");

    let ev = next(&mut sub).unwrap();
    assert_eq!(
        wire(&ev),
        format!("event: update\nid: {epoch}-2\ndata: x\n\n")
    );
    assert_eq!((ev.event_type(), ev.data().as_ref()), (Some("update"), "x"));

    let ev = next(&mut sub).unwrap();
    assert_eq!(
        wire(&ev),
        format!(": note\nevent: json\nid: {epoch}-3\ndata: {{\"n\":1}}\n\n")
    );
    assert_eq!(ev.data(), "{\"n\":1}");
    assert!(next(&mut sub).is_none());
}

#[test]
fn reset_events_on_the_wire() {
    let hub = Channels::builder().reset_event("resync").build();
    now(hub.publish("t", "one")).unwrap();
    let mut head = now(hub.publish("t", "two")).unwrap();

    for (last, reason) in [
        ("garbage", "unknown-id"),
        ("zzzzzzzzzz-1", "unknown-id"),
        (&*"9".repeat(64 * 1024), "unknown-id"),
    ] {
        let mut sub = now(hub.subscribe("t", Some(last)));
        let ev = next(&mut sub).unwrap();
        assert!(ev.is_reset());
        assert_eq!(
            wire(&ev),
            format!("event: resync\nid: {head}\ndata: {reason}\n\n")
        );
        assert_eq!(ev.id(), &head);
        assert_eq!(ev.event_type(), Some("resync"));
        assert_eq!(ev.data(), reason);
        assert!(next(&mut sub).is_none());

        head = now(hub.publish("t", "three")).unwrap();
        assert_eq!(next(&mut sub).unwrap().id(), &head);
    }
}

#[test]
fn a_trimmed_position_resets_with_the_head_and_goes_live() {
    let hub = Channels::builder().history_events(2).build();
    let first = now(hub.publish("t", "1")).unwrap();
    for i in 2..=4 {
        now(hub.publish("t", i.to_string())).unwrap();
    }
    let head = now(hub.publish("other", "x")).unwrap();
    let mut sub = now(hub.subscribe("t", &first.to_string()));
    let ev = next(&mut sub).unwrap();
    assert_eq!(
        wire(&ev),
        format!("event: reset\nid: {head}\ndata: trimmed\n\n")
    );
    assert!(next(&mut sub).is_none());
    now(hub.publish("t", "5")).unwrap();
    assert_eq!(next(&mut sub).unwrap().data(), "5");
}

#[test]
fn invalid_events_store_nothing_and_use_no_id() {
    let hub = Channels::new();
    let err = now(hub.publish("t", Event::data("x").event("a\nb"))).unwrap_err();
    assert!(matches!(&err, PublishError::Invalid(e) if e.field() == crate::Field::Event));
    assert!(err.to_string().contains("line feed"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(hub.topic_count(), 0);

    // A user id that would be invalid does not matter: the hub replaces it.
    let id = now(hub.publish("t", Event::data("x").id("a\nb"))).unwrap();
    assert_eq!(id.sequence(), 1);

    let failing = |_: &u32| -> Result<String, std::fmt::Error> { Err(std::fmt::Error) };
    let err = now(hub.publish_serialized("t", &1, &failing, Event::new())).unwrap_err();
    assert!(matches!(err, PublishError::Serialize(_)));
    let err = now(hub.publish_serialized("t", &1, &crate::Json, Event::new().event("\r")));
    assert!(matches!(err, Err(PublishError::Invalid(_))));

    let mut sub = now(hub.subscribe("t", &format!("{}", EventId::new(id.epoch(), 0))));
    assert_eq!(next(&mut sub).unwrap().id(), &id);
    assert!(next(&mut sub).is_none());
    assert_eq!(now(hub.publish("t", "y")).unwrap().sequence(), 2);
}
