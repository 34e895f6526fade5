//! `actix_sse::metrics()`: every counter, counted exactly, and the start and end of each
//! stream in the log. One test: the counters are process-wide, and this binary runs
//! nothing else at the same time.

use std::{sync::Mutex, time::Duration};

use actix_sse::prelude::*;
use actix_sse::test::{self as sse_test, End, Message};
use actix_sse::{metrics, Lag, Metrics};
use actix_web::{
    error::ErrorUnauthorized,
    test::{init_service, TestRequest},
    web, App, HttpResponse,
};

/// Records the `actix_sse` debug lines.
struct Recorder(Mutex<Vec<String>>);

impl log::Log for Recorder {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.target() == "actix_sse"
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) && record.level() == log::Level::Debug {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

static LOG: Recorder = Recorder(Mutex::new(Vec::new()));

fn take_log() -> Vec<String> {
    std::mem::take(&mut *LOG.0.lock().unwrap())
}

/// `now - before`, field by field (the gauge as it is now).
fn delta(before: &Metrics) -> Metrics {
    let now = metrics();
    let mut d = Metrics::default();
    d.streams_open = now.streams_open;
    d.streams_opened = now.streams_opened - before.streams_opened;
    d.events_sent = now.events_sent - before.events_sent;
    d.bytes_sent = now.bytes_sent - before.bytes_sent;
    d.events_refused = now.events_refused - before.events_refused;
    d.heartbeats = now.heartbeats - before.heartbeats;
    d.ended_disconnect = now.ended_disconnect - before.ended_disconnect;
    d.ended_close = now.ended_close - before.ended_close;
    d.ended_error = now.ended_error - before.ended_error;
    d.ended_panic = now.ended_panic - before.ended_panic;
    d.subscribers_ended_lag = now.subscribers_ended_lag - before.subscribers_ended_lag;
    d.subscribers_reset_lag = now.subscribers_reset_lag - before.subscribers_reset_lag;
    d
}

#[sse("/two")]
async fn two() {
    send!("a");
    send!("bb", id = 1);
}

#[sse("/refused")]
async fn refused() {
    let _ = send!("x", event = "bad\nname"); // refused: would inject a line
    send!("ok");
}

#[sse("/fails")]
async fn fails() -> Result<(), String> {
    send!("a");
    Err("database gone".to_owned())
}

#[sse("/panics")]
async fn panics() {
    send!("a");
    if std::hint::black_box(true) {
        panic!("boom");
    }
}

#[sse("/idle", heartbeat = "10s")]
async fn idle() {
    send!("a");
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[sse("/denied")]
async fn denied() -> actix_web::Result<()> {
    Err(ErrorUnauthorized("no"))
}

#[sse("/rooms/{room}")]
async fn room(
    hub: web::Data<Channels>,
    room: web::Path<String>,
) -> impl Stream<Item = ChannelEvent> {
    hub.subscribe(&room, None).await
}

#[actix_web::test]
async fn counters_and_log() {
    log::set_logger(&LOG).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    tokio::time::pause();
    let hub = web::Data::new(Channels::builder().queue(2).build());
    let app = init_service(
        App::new()
            .app_data(hub.clone())
            .service(two)
            .service(refused)
            .service(fails)
            .service(panics)
            .service(idle)
            .service(denied)
            .service(room)
            .route(
                "/metrics",
                web::get().to(|| async { HttpResponse::Ok().body(metrics().to_prometheus()) }),
            ),
    )
    .await;
    assert_eq!(metrics().streams_open, 0);

    // Two events, a clean end.
    let before = metrics();
    let mut stream = sse_test::get(&app, "/two").await;
    assert_eq!(metrics().streams_open, 1);
    assert_eq!(stream.events().await.len(), 2);
    drop(stream);
    let mut expected = Metrics::default();
    expected.streams_opened = 1;
    expected.events_sent = 2;
    expected.bytes_sent = ("data: a\n\n".len() + "id: 1\ndata: bb\n\n".len()) as u64;
    expected.ended_close = 1;
    assert_eq!(delta(&before), expected);
    assert_eq!(
        take_log(),
        ["SSE stream start: /two", "SSE stream end: /two (close)"]
    );

    // A refused event.
    let before = metrics();
    let mut stream = sse_test::get(&app, "/refused").await;
    stream.assert_event("ok").await;
    stream.assert_end().await;
    drop(stream);
    let d = delta(&before);
    assert_eq!((d.events_sent, d.events_refused, d.ended_close), (1, 1, 1));
    take_log();

    // An error, a panic.
    let before = metrics();
    let mut stream = sse_test::get(&app, "/fails").await;
    stream.assert_event("a").await;
    stream.assert_end().await;
    drop(stream);
    let mut stream = sse_test::get(&app, "/panics").await;
    stream.assert_event("a").await;
    assert_eq!(stream.next().await, None);
    assert!(matches!(stream.end(), Some(End::Error(_))));
    drop(stream);
    let d = delta(&before);
    assert_eq!(
        (
            d.streams_opened,
            d.ended_error,
            d.ended_panic,
            d.ended_close
        ),
        (2, 1, 1, 0)
    );
    assert_eq!(
        take_log(),
        [
            "SSE stream start: /fails",
            "SSE stream end: /fails (error)",
            "SSE stream start: /panics",
            "SSE stream end: /panics (panic)"
        ]
    );

    // Heartbeats on an idle stream, then the client leaves.
    let before = metrics();
    let mut stream = sse_test::get(&app, "/idle").await;
    stream.assert_event("a").await;
    for _ in 0..3 {
        assert_eq!(stream.next().await, Some(Message::Comment(String::new())));
    }
    let d = delta(&before);
    assert_eq!(
        (d.heartbeats, d.streams_open, d.ended_disconnect),
        (3, 1, 0)
    );
    assert_eq!(d.bytes_sent, ("data: a\n\n".len() + 3 * ":\n".len()) as u64);
    drop(stream);
    let d = delta(&before);
    assert_eq!((d.streams_open, d.ended_disconnect), (0, 1));
    assert_eq!(
        take_log(),
        [
            "SSE stream start: /idle",
            "SSE stream end: /idle (disconnect)"
        ]
    );

    // An answer instead of a stream opens no stream.
    let before = metrics();
    let stream = sse_test::get(&app, "/denied").await;
    assert_eq!(stream.status(), 401);
    assert_eq!(delta(&before), Metrics::default());
    assert_eq!(take_log(), Vec::<String>::new());

    // A channel subscriber that falls behind (queue of 2): ended under `Lag::End`.
    let before = metrics();
    let mut stream = sse_test::get(&app, "/rooms/a").await;
    for i in 0..5 {
        hub.publish("a", i.to_string()).await.unwrap();
    }
    assert_eq!(stream.events().await, Vec::new());
    drop(stream);
    let d = delta(&before);
    assert_eq!((d.subscribers_ended_lag, d.subscribers_reset_lag), (1, 0));
    assert_eq!(
        take_log(),
        [
            "SSE stream start: /rooms/{room}",
            "SSE stream end: /rooms/{room} (close)"
        ]
    );
    // … or reset under `Lag::Reset`.
    let reset = Channels::builder().queue(2).on_lag(Lag::Reset).build();
    let sub = reset.subscribe("b", None).await;
    for i in 0..5 {
        reset.publish("b", i.to_string()).await.unwrap();
    }
    drop(sub);
    assert_eq!(delta(&before).subscribers_reset_lag, 1);

    // The Prometheus text has every counter, with its value now.
    let mut stream = sse_test::open(&app, TestRequest::get().uri("/metrics")).await;
    let text = stream.text().await;
    let now = metrics();
    for line in [
        format!("actix_sse_streams_open {}", now.streams_open),
        format!("actix_sse_streams_opened_total {}", now.streams_opened),
        format!("actix_sse_events_sent_total {}", now.events_sent),
        format!("actix_sse_bytes_sent_total {}", now.bytes_sent),
        format!("actix_sse_events_refused_total {}", now.events_refused),
        format!("actix_sse_heartbeats_total {}", now.heartbeats),
        format!(
            "actix_sse_streams_ended_total{{reason=\"disconnect\"}} {}",
            now.ended_disconnect
        ),
        format!(
            "actix_sse_streams_ended_total{{reason=\"close\"}} {}",
            now.ended_close
        ),
        format!(
            "actix_sse_streams_ended_total{{reason=\"error\"}} {}",
            now.ended_error
        ),
        format!(
            "actix_sse_streams_ended_total{{reason=\"panic\"}} {}",
            now.ended_panic
        ),
        format!(
            "actix_sse_channel_subscribers_lagged_total{{outcome=\"ended\"}} {}",
            now.subscribers_ended_lag
        ),
        format!(
            "actix_sse_channel_subscribers_lagged_total{{outcome=\"reset\"}} {}",
            now.subscribers_reset_lag
        ),
        "# TYPE actix_sse_streams_open gauge".to_owned(),
        "# TYPE actix_sse_events_sent_total counter".to_owned(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    assert_eq!(now.streams_opened, 6);
    assert_eq!(now.streams_open, 0);
}
