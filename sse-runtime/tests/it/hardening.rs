//! Regressions for faults found by attacking the body as a hostile user would: heartbeat
//! periods at the extremes, sends after a close, and extension points (serializers,
//! `IntoEvent`) that try to write unframed bytes. Driven by hand under paused tokio time.

use std::{cell::Cell, rc::Rc, time::Duration};

use crate::common;

use common::{boxed, next, next_chunk};
use sse_runtime::{DataWriter, Event, IntoEvent, SerializeError, Serializer, Sse, MAX_HEARTBEAT};
use tokio::time::Instant;

/// `heartbeat(Duration::MAX)` used to overflow `Instant + period` after the first event and
/// kill the connection. It is lowered to 24 h: the stream lives, and the heartbeat comes
/// after exactly 24 h of idleness.
#[tokio::test(start_paused = true)]
async fn a_huge_heartbeat_period_is_lowered_to_24h() {
    let mut body = boxed(
        Sse::from_fn(|tx| async move {
            tx.send("first").await.unwrap();
            std::future::pending::<()>().await;
        })
        .heartbeat(Duration::MAX),
    );
    assert_eq!(next_chunk(&mut body).await, &b"data: first\n\n"[..]);
    let idle = Instant::now();
    assert_eq!(next_chunk(&mut body).await, &b":\n"[..]);
    assert_eq!(idle.elapsed(), MAX_HEARTBEAT);
    assert_eq!(next_chunk(&mut body).await, &b":\n"[..]);
    assert_eq!(idle.elapsed(), MAX_HEARTBEAT * 2);
}

/// `heartbeat(Duration::ZERO)` used to send a frame every millisecond. It is raised to
/// 10 ms: 100 heartbeats in one second, not 1,000.
#[tokio::test(start_paused = true)]
async fn a_zero_heartbeat_period_is_raised_to_10ms() {
    let mut body =
        boxed(Sse::from_fn(|_tx| std::future::pending::<()>()).heartbeat(Duration::ZERO));
    let start = Instant::now();
    let mut beats = 0;
    while start.elapsed() < Duration::from_secs(1) {
        assert_eq!(next_chunk(&mut body).await, &b":\n"[..]);
        beats += 1;
    }
    assert_eq!(beats, 100, "one heartbeat every 10 ms");
}

/// A loop of sends after a close used to spin: each send returned `Closed` without
/// yielding. Now the handler is parked at its first send after the close and the body ends
/// cleanly, delivering what was sent before.
#[tokio::test(start_paused = true)]
async fn sends_after_close_do_not_spin_the_handler() {
    let sends_after_close = Rc::new(Cell::new(0u32));
    let count = sends_after_close.clone();
    let mut body = boxed(Sse::from_fn(move |tx| async move {
        tx.send("before").await.unwrap();
        tx.close();
        for _ in 0..1_000_000 {
            let _ = tx.send("after").await;
            count.set(count.get() + 1);
        }
    }));
    assert_eq!(next_chunk(&mut body).await, &b"data: before\n\n"[..]);
    assert!(
        next(&mut body).await.is_none(),
        "a clean end after the close"
    );
    assert_eq!(
        sends_after_close.get(),
        0,
        "the handler never got past its first send after the close"
    );
}

/// A `Sender` clone in another task that ignores `Closed` and keeps sending still yields on
/// every send, so other tasks on the same thread run.
#[tokio::test(start_paused = true)]
async fn a_sender_clone_looping_after_close_yields_to_other_tasks() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let spins = Rc::new(Cell::new(0u32));
            let other_ran = Rc::new(Cell::new(false));
            let (s, o) = (spins.clone(), other_ran.clone());
            let mut body = boxed(Sse::from_fn(move |tx| async move {
                let clone = tx.clone();
                tokio::task::spawn_local(async move {
                    while s.get() < 1_000 {
                        assert!(clone.send("x").await.is_err());
                        s.set(s.get() + 1);
                    }
                });
                tx.close();
            }));
            tokio::task::spawn_local(async move { o.set(true) });
            assert!(next(&mut body).await.is_none());
            // Let the looping task run: it must yield, so the other task runs too.
            while spins.get() < 1_000 {
                tokio::task::yield_now().await;
                if other_ran.get() {
                    break;
                }
            }
            assert!(other_ran.get(), "the looping sender let the other task run");
            assert!(
                spins.get() < 1_000,
                "it yielded long before finishing its loop"
            );
        })
        .await;
}

/// A serializer that tries to end the event and start another, and a lone CR.
struct Injecting;

impl Serializer<str> for Injecting {
    fn serialize(&self, value: &str, out: &mut DataWriter<'_>) -> Result<(), SerializeError> {
        out.write_str(value);
        out.write_str("\n\nevent: injected\rid: 666\r\n");
        Ok(())
    }
}

/// A serializer writing bytes that are not UTF-8 through `io::Write`.
struct NotUtf8;

impl Serializer<u8> for NotUtf8 {
    fn serialize(&self, _: &u8, out: &mut DataWriter<'_>) -> Result<(), SerializeError> {
        std::io::Write::write_all(out, b"ok \xff\xfe").map_err(SerializeError::new)
    }
}

/// What a serializer writes is framed by the runtime: every line becomes a `data: ` line of
/// the same event, so no field and no event can be injected; non-UTF-8 output is refused
/// and nothing of it is written.
#[tokio::test(start_paused = true)]
async fn a_serializer_cannot_inject_fields_or_events() {
    let mut body = boxed(Sse::from_fn(|tx| async move {
        tx.send_serialized("hi", &Injecting, Event::new().event("chat"))
            .await
            .unwrap();
        let refused = tx.send_serialized(&1u8, &NotUtf8, Event::new()).await;
        assert!(refused.is_err(), "invalid UTF-8 is refused");
        tx.send("after").await.unwrap();
    }));
    assert_eq!(
        next_chunk(&mut body).await,
        &b"event: chat\ndata: hi\ndata: \ndata: event: injected\ndata: id: 666\ndata: \n\ndata: after\n\n"[..]
    );
}

/// A user type can only become an event through `into_event`: the runtime encodes the
/// `Event` it returns, with the same checks as every other event.
struct Sneaky;

impl IntoEvent for Sneaky {
    fn into_event(self) -> Event {
        Event::data("a\n\nevent: injected").id("1\nid: 2")
    }
}

struct Honest(&'static str);

impl IntoEvent for Honest {
    fn into_event(self) -> Event {
        Event::data(self.0).event("honest")
    }
}

#[tokio::test(start_paused = true)]
async fn an_into_event_impl_cannot_write_unframed_bytes() {
    let mut body = boxed(Sse::from_fn(|tx| async move {
        assert!(tx.send(Sneaky).await.is_err(), "the id is refused");
        tx.send(Honest("x\r\ny")).await.unwrap();
    }));
    assert_eq!(
        next_chunk(&mut body).await,
        &b"event: honest\ndata: x\ndata: y\n\n"[..]
    );
}

/// The same guarantee for a stream source's items.
#[tokio::test(start_paused = true)]
async fn stream_items_through_a_serializer_are_framed() {
    let items = futures_util::stream::iter(["one\ntwo", "three"]);
    let mut body = boxed(Sse::from_serialized_stream(items, |s: &&str| {
        format!("{s}\n\nevent: x")
    }));
    assert_eq!(
        next_chunk(&mut body).await,
        &b"data: one\ndata: two\ndata: \ndata: event: x\n\ndata: three\ndata: \ndata: event: x\n\n"
            [..]
    );
}
