//! The `Sse` body driven by hand, under paused tokio time: coalescing, back-pressure,
//! heartbeat cadence, close, faults. (Behaviour over real HTTP is in the root `tests/`.)

use std::{
    cell::Cell,
    rc::Rc,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use crate::common;

use bytes::Bytes;
use common::{boxed, next, next_chunk, Body};
use futures_util::task::noop_waker_ref;
use sse_runtime::{Event, Json, SendError, Sse, SseSession};
use tokio::time::{advance, sleep};

/// One `poll_next` with a no-op waker: `None` = Pending.
fn poll_once(body: &mut Body) -> Option<Option<Result<Bytes, String>>> {
    let mut cx = Context::from_waker(noop_waker_ref());
    match body.as_mut().poll_next(&mut cx) {
        Poll::Pending => None,
        Poll::Ready(r) => Some(r.map(|r| r.map_err(|e| e.to_string()))),
    }
}

#[tokio::test(start_paused = true)]
async fn ready_events_are_coalesced_into_one_chunk() {
    let mut body = boxed(Sse::from_fn(|tx| async move {
        for i in 0..100 {
            tx.send(format!("{i}")).await.unwrap();
        }
    }));
    let chunk = next_chunk(&mut body).await;
    let want: String = (0..100).map(|i| format!("data: {i}\n\n")).collect();
    assert_eq!(chunk, want.as_bytes());
    assert!(next(&mut body).await.is_none(), "ends after the handler");
}

#[tokio::test(start_paused = true)]
async fn back_pressure_bounds_the_buffer_and_pauses_the_handler() {
    let sent = Rc::new(Cell::new(0usize));
    let counter = sent.clone();
    let event = "x".repeat(94); // 100 bytes encoded
    let mut body = boxed(
        Sse::from_fn(move |tx| async move {
            for _ in 0..1_000_000 {
                tx.send(event.as_str()).await.unwrap();
                counter.set(counter.get() + 1);
            }
        })
        .buffer_size(1000),
    );
    for _ in 0..5 {
        let chunk = next_chunk(&mut body).await;
        // The buffer takes events while it holds less than the limit: at most limit + one.
        assert!(chunk.len() <= 1000 + 100, "chunk of {} bytes", chunk.len());
        assert!(chunk.len() >= 1000);
    }
    // The handler only ran as far as the client took: 5 chunks of 10 events.
    assert_eq!(sent.get(), 50);
}

#[tokio::test(start_paused = true)]
async fn heartbeat_only_after_the_period_of_idleness() {
    let mut body = boxed(
        Sse::from_fn(|tx| async move {
            // 10 events 5 ms apart (busy), then silence.
            for i in 0..10 {
                tx.send(format!("{i}")).await.unwrap();
                sleep(Duration::from_millis(5)).await;
            }
            std::future::pending::<()>().await;
        })
        .heartbeat(Duration::from_millis(10)),
    );
    let start = tokio::time::Instant::now();
    let mut frames = Vec::new();
    while frames.len() < 13 {
        let chunk = next_chunk(&mut body).await;
        frames.push((start.elapsed().as_millis(), chunk));
    }
    let hb: Vec<_> = frames.iter().filter(|(_, c)| &c[..] == b":\n").collect();
    let events = frames
        .iter()
        .filter(|(_, c)| c.starts_with(b"data: "))
        .count();
    assert_eq!(events, 10, "{frames:?}");
    // Last event at 45 ms; heartbeats at 55, 65, 75: none while events flowed.
    let times: Vec<u128> = hb.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, vec![55, 65, 75], "{frames:?}");
}

#[tokio::test(start_paused = true)]
async fn custom_heartbeat_event_and_off() {
    let mut body = boxed(
        Sse::from_fn(|_tx| std::future::pending::<()>())
            .heartbeat(Duration::from_millis(10))
            .heartbeat_event(&Event::data("heartbeat"))
            .unwrap(),
    );
    assert_eq!(next_chunk(&mut body).await, &b"data: heartbeat\n\n"[..]);

    // An event with no field would be an empty write (which ends an actix body): refused
    // in favour of the default comment.
    let mut body = boxed(
        Sse::from_fn(|_tx| std::future::pending::<()>())
            .heartbeat(Duration::from_millis(10))
            .heartbeat_event(&Event::new())
            .unwrap(),
    );
    assert_eq!(next_chunk(&mut body).await, &b":\n"[..]);

    let bad = Sse::from_fn(|_tx| std::future::pending::<()>())
        .heartbeat_event(&Event::data("x").id("a\nb"));
    assert!(bad.is_err());

    let mut body = boxed(Sse::from_fn(|_tx| std::future::pending::<()>()).no_heartbeat());
    assert!(poll_once(&mut body).is_none());
    advance(Duration::from_secs(3600)).await;
    assert!(poll_once(&mut body).is_none(), "no heartbeat when off");
}

#[tokio::test(start_paused = true)]
async fn default_heartbeat_is_a_comment_every_15s() {
    let mut body = boxed(Sse::from_fn(|_tx| std::future::pending::<()>()));
    assert!(poll_once(&mut body).is_none());
    advance(Duration::from_millis(14_999)).await;
    assert!(poll_once(&mut body).is_none());
    advance(Duration::from_millis(1)).await;
    assert_eq!(
        poll_once(&mut body),
        Some(Some(Ok(Bytes::from_static(b":\n"))))
    );
}

#[tokio::test(start_paused = true)]
async fn retry_is_sent_first() {
    let mut body = boxed(
        Sse::from_fn(|tx| async move {
            tx.send("a").await.unwrap();
        })
        .retry(Duration::from_millis(3000)),
    );
    assert_eq!(
        next_chunk(&mut body).await,
        &b"retry: 3000\n\ndata: a\n\n"[..]
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_retry_replaces_the_first() {
    let mut body = boxed(
        Sse::from_fn(|tx| async move {
            tx.send("a").await.unwrap();
        })
        .retry(Duration::from_millis(3000))
        .buffer_size(64)
        .retry(Duration::from_millis(250)),
    );
    assert_eq!(
        next_chunk(&mut body).await,
        &b"retry: 250\n\ndata: a\n\n"[..]
    );
}

/// A `Sender` clone can send before the builder's `retry` is set: the line still goes
/// first, and the event is kept.
#[tokio::test(start_paused = true)]
async fn retry_set_after_an_early_send_keeps_the_event() {
    let mut early = None;
    let sse = Sse::from_fn(|tx| {
        early = Some(tx.clone());
        std::future::pending::<()>()
    });
    let early = early.expect("the closure ran");
    early.send("early").await.unwrap();
    let mut body = boxed(sse.retry(Duration::from_millis(250)));
    assert_eq!(
        next_chunk(&mut body).await,
        &b"retry: 250\n\ndata: early\n\n"[..]
    );
}

/// An event with no field writes nothing, so sends of it never fill the buffer: each
/// yields once, and a loop of them lets the worker run other tasks. Without the yield the
/// first poll runs the whole loop and returns the last event.
#[tokio::test(start_paused = true)]
async fn sends_that_write_nothing_yield() {
    let mut body = boxed(Sse::from_fn(|tx| async move {
        for _ in 0..10 {
            tx.send(Event::new()).await.unwrap();
        }
        tx.send("x").await.unwrap();
    }));
    assert_eq!(poll_once(&mut body), None, "the first empty send yields");
    assert_eq!(next_chunk(&mut body).await, &b"data: x\n\n"[..]);
}

/// The same for a stream: items that write nothing (events with no field, skipped
/// items) make the source yield after a bounded number in a row.
#[tokio::test(start_paused = true)]
async fn a_stream_of_items_that_write_nothing_yields() {
    let items = futures_util::stream::iter(
        std::iter::repeat_with(Event::new)
            .take(5_000)
            .chain([Event::data("x")]),
    );
    let mut body = boxed(Sse::from_stream(items));
    assert_eq!(poll_once(&mut body), None, "the source yields");
    assert_eq!(next_chunk(&mut body).await, &b"data: x\n\n"[..]);
}

#[tokio::test(start_paused = true)]
async fn close_sends_nothing_and_delivers_what_was_sent() {
    let after_close = Rc::new(Cell::new(None));
    let seen = after_close.clone();
    let mut body = boxed(Sse::from_fn(move |tx| async move {
        tx.send("before").await.unwrap();
        tx.close();
        seen.set(Some(matches!(
            tx.send("after").await,
            Err(SendError::Closed)
        )));
        std::future::pending::<()>().await;
    }));
    assert_eq!(next_chunk(&mut body).await, &b"data: before\n\n"[..]);
    assert!(next(&mut body).await.is_none());
    assert_eq!(
        after_close.get(),
        None,
        "a send after the close never completes: the handler is parked, then dropped"
    );
    assert!(next(&mut body).await.is_none(), "stays ended");
}

#[tokio::test(start_paused = true)]
async fn session_close_from_another_thread_wakes_the_body() {
    let session = SseSession::new();
    let mut body =
        boxed(Sse::from_fn(|_tx| std::future::pending::<()>()).with_session(session.clone()));
    assert!(poll_once(&mut body).is_none());
    let (woken_tx, woken_rx) = tokio::sync::oneshot::channel::<()>();
    let s = session.clone();
    std::thread::spawn(move || {
        s.close();
        let _ = woken_tx.send(());
    });
    // The real waker must be woken by close(): a plain await would hang otherwise.
    let _ = woken_rx.await;
    let end = tokio::time::timeout(Duration::from_secs(1), next(&mut body)).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
    assert!(session.is_closed());
}

struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A `Sender` clone in another local task sends, then closes, 10 ms apart. Nothing else
/// could wake the body (no heartbeat; the handler waits forever), so the send and the
/// close themselves must.
#[tokio::test(start_paused = true)]
async fn send_and_close_from_another_local_task_wake_the_body() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let mut body = boxed(
                Sse::from_fn(|tx| async move {
                    let other = tx.clone();
                    tokio::task::spawn_local(async move {
                        sleep(Duration::from_millis(10)).await;
                        other.send("from elsewhere").await.unwrap();
                        sleep(Duration::from_millis(10)).await;
                        other.close();
                    });
                    std::future::pending::<()>().await;
                })
                .no_heartbeat(),
            );
            let woken = Arc::new(Woken(AtomicBool::new(false)));
            let waker = Waker::from(woken.clone());
            let mut cx = Context::from_waker(&waker);
            assert!(body.as_mut().poll_next(&mut cx).is_pending());

            sleep(Duration::from_millis(15)).await;
            assert!(
                woken.0.swap(false, Ordering::SeqCst),
                "send() woke the body"
            );
            match body.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(chunk))) => assert_eq!(chunk, &b"data: from elsewhere\n\n"[..]),
                other => panic!("{other:?}"),
            }
            assert!(body.as_mut().poll_next(&mut cx).is_pending());

            sleep(Duration::from_millis(10)).await;
            assert!(woken.0.load(Ordering::SeqCst), "close() woke the body");
            assert!(matches!(
                body.as_mut().poll_next(&mut cx),
                Poll::Ready(None)
            ));
        })
        .await;
}

struct Flag(Rc<Cell<bool>>);
impl Drop for Flag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_body_drops_the_handler() {
    let dropped = Rc::new(Cell::new(false));
    let flag = Flag(dropped.clone());
    let session = SseSession::new();
    let mut body = boxed(
        Sse::from_fn(move |tx| async move {
            let _flag = flag;
            tx.send("one").await.unwrap();
            std::future::pending::<()>().await;
        })
        .with_session(session.clone()),
    );
    next_chunk(&mut body).await;
    assert!(!dropped.get());
    drop(body);
    assert!(dropped.get(), "handler locals dropped with the body");
    assert!(session.is_closed(), "the session reports the stream gone");
}

#[tokio::test(start_paused = true)]
async fn panic_ends_only_this_body_after_delivering_what_was_sent() {
    let mut body = boxed(Sse::from_fn(|tx| async move {
        tx.send("first").await.unwrap();
        sleep(Duration::from_millis(1)).await;
        tx.send("second").await.unwrap();
        if true {
            panic!("boom");
        }
    }));
    assert_eq!(next_chunk(&mut body).await, &b"data: first\n\n"[..]);
    assert_eq!(next_chunk(&mut body).await, &b"data: second\n\n"[..]);
    let err = next(&mut body).await.unwrap().unwrap_err();
    assert!(err.contains("boom"), "{err}");
    assert!(next(&mut body).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn panicking_serializer_leaves_no_partial_frame() {
    fn bad(_: &u8) -> String {
        panic!("serializer bug")
    }
    let mut body = boxed(Sse::from_fn(|tx| async move {
        tx.send("ok").await.unwrap();
        let _ = tx.send_serialized(&1u8, &bad, Event::new().id(7)).await;
    }));
    assert_eq!(next_chunk(&mut body).await, &b"data: ok\n\n"[..]);
    assert!(next(&mut body).await.unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn handler_error_is_logged_and_ends_cleanly() {
    let mut body = boxed(Sse::from_fn(|tx| async move {
        tx.send("a").await.map_err(|_| std::fmt::Error)?;
        Err::<(), _>(std::fmt::Error)
    }));
    assert_eq!(next_chunk(&mut body).await, &b"data: a\n\n"[..]);
    assert!(next(&mut body).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn refused_events_write_nothing_and_the_stream_goes_on() {
    let mut body = boxed(Sse::from_fn(|tx| async move {
        let e = tx
            .send(Event::data("x").id("1\nevent: evil"))
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::Invalid(_)));
        let e = tx.send(Event::data("x").event("a\rb")).await.unwrap_err();
        assert!(matches!(e, SendError::Invalid(_)));
        let bad_key = std::collections::HashMap::from([((1, 2), 3)]);
        let e = tx
            .send_serialized(&bad_key, &Json, Event::new())
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::Serialize(_)));
        let e = tx
            .send_serialized(&1, &Json, Event::new().event("x\ny"))
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::Invalid(_)));
        tx.send_serialized(&[1, 2], &Json, Event::new().event("nums").id(3))
            .await
            .unwrap();
        tx.send("after").await.unwrap();
    }));
    assert_eq!(
        next_chunk(&mut body).await,
        &b"event: nums\nid: 3\ndata: [1,2]\n\ndata: after\n\n"[..]
    );
}

#[tokio::test(start_paused = true)]
async fn stream_source_items_and_errors() {
    let items: Vec<Result<Event, &str>> = vec![
        Ok(Event::data("a")),
        Ok(Event::data("skipped").id("bad\nid")),
        Ok(Event::data("b").id(2)),
        Err("database gone"),
        Ok(Event::data("never")),
    ];
    let mut body = boxed(Sse::from_stream(futures_util::stream::iter(items)));
    assert_eq!(
        next_chunk(&mut body).await,
        &b"data: a\n\nid: 2\ndata: b\n\n"[..]
    );
    assert!(
        next(&mut body).await.is_none(),
        "an Err item ends the stream"
    );

    let mut body = boxed(Sse::from_serialized_stream(
        futures_util::stream::iter([vec![1], vec![2, 3]]),
        Json,
    ));
    assert_eq!(
        next_chunk(&mut body).await,
        &b"data: [1]\n\ndata: [2,3]\n\n"[..]
    );
    assert!(next(&mut body).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn stream_source_respects_the_buffer_limit() {
    let mut body =
        boxed(Sse::from_stream(futures_util::stream::repeat("y".repeat(94))).buffer_size(500));
    for _ in 0..3 {
        let chunk = next_chunk(&mut body).await;
        assert!((500..=600).contains(&chunk.len()), "{}", chunk.len());
    }
}

#[tokio::test(start_paused = true)]
async fn never_yields_an_empty_chunk() {
    // Events that encode to nothing must not become empty chunks (actix ends the body on one).
    let mut body = boxed(Sse::from_fn(|tx| async move {
        tx.send(Event::new()).await.unwrap();
        sleep(Duration::from_millis(1)).await;
        tx.send("x").await.unwrap();
    }));
    assert_eq!(next_chunk(&mut body).await, &b"data: x\n\n"[..]);
    assert!(next(&mut body).await.is_none());
}
