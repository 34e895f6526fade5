//! The demo's routes reproduce Ktor's SSE documentation: read through `actix_web::test`
//! with the test client, on tokio's paused clock (the timings are exact and take no time).
//! The demo over real sockets: `demo_process.rs` (the binary) and `browser.rs` (Chromium).

#[path = "../examples/demo/main.rs"]
#[allow(dead_code)]
mod demo;

use std::time::Duration;

use actix_sse::test::{self as sse_test, Message, ReceivedEvent};
use actix_web::{test::init_service, App};
use tokio::time::Instant;

/// `gap` is `expected` on the paused clock (whose timers round up to the next ms).
#[track_caller]
fn assert_gap(gap: Duration, expected: Duration) {
    assert!(
        gap >= expected && gap <= expected + Duration::from_millis(2),
        "{gap:?} apart, expected {expected:?}"
    );
}

#[actix_web::test]
async fn events_are_six_messages_one_second_apart_then_a_clean_end() {
    tokio::time::pause();
    let app = init_service(App::new().configure(demo::configure)).await;
    let mut last = Instant::now();
    let mut stream = sse_test::get(&app, "/events").await;
    assert!(stream.is_event_stream());
    for i in 0..6 {
        stream.assert_event(format!("this is SSE #{i}")).await;
        let expected = Duration::from_secs(if i == 0 { 0 } else { 1 });
        assert_gap(last.elapsed(), expected);
        last = Instant::now();
    }
    stream.assert_end().await;
    assert_gap(last.elapsed(), Duration::from_secs(1));
}

#[actix_web::test]
async fn heartbeat_sends_the_custom_event_every_10ms() {
    tokio::time::pause();
    let app = init_service(App::new().configure(demo::configure)).await;
    let mut last = Instant::now();
    let mut stream = sse_test::get(&app, "/heartbeat").await;
    for _ in 0..150 {
        stream.assert_event("heartbeat").await;
        assert_gap(last.elapsed(), Duration::from_millis(10));
        last = Instant::now();
    }
}

#[actix_web::test]
async fn json_sends_the_two_objects_with_camel_case_names() {
    let app = init_service(App::new().configure(demo::configure)).await;
    let mut stream = sse_test::get(&app, "/json").await;
    stream
        .assert_event(r#"{"id":0,"firstName":"Jet","lastName":"Brains"}"#)
        .await;
    stream.assert_event(r#"{"id":0,"prices":[100,200]}"#).await;
    stream.assert_end().await;
}

#[actix_web::test]
async fn the_route_without_a_path_is_mounted_by_hand() {
    tokio::time::pause();
    let app = init_service(App::new().configure(demo::configure)).await;
    let mut stream = sse_test::get(&app, "/feed")
        .header(("user-agent", "test-agent"))
        .await;
    stream
        .assert_event(ReceivedEvent::data("hello, test-agent").event("greeting"))
        .await;
    for i in 1..=3 {
        stream.assert_event(format!("feed item {i}")).await;
    }
    stream.assert_end().await;
}

#[actix_web::test]
async fn counter_resumes_after_last_event_id_and_stops_at_9() {
    tokio::time::pause();
    let app = init_service(App::new().configure(demo::configure)).await;
    let mut stream = sse_test::get(&app, "/counter").last_event_id(3).await;
    assert_eq!(
        stream.next().await,
        Some(Message::Retry(Duration::from_secs(1)))
    );
    stream
        .assert_event(ReceivedEvent::data("resumed after id 3").event("session"))
        .await;
    for n in 4..=8 {
        stream
            .assert_event(ReceivedEvent::data(n.to_string()).id(n.to_string()))
            .await;
    }
    stream.assert_end().await;

    // The last stretch stops at 9 …
    let mut stream = sse_test::get(&app, "/counter").last_event_id(7).await;
    let ids: Vec<String> = stream.events().await.into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["", "8", "9"]);

    // … and a client that has 9 is told to stop (WIRE 36).
    let stream = sse_test::get(&app, "/counter").last_event_id(9).await;
    assert_eq!(stream.status(), 204);
}

#[actix_web::test]
async fn metrics_are_served_in_the_prometheus_text_format() {
    let app = init_service(App::new().configure(demo::configure)).await;
    // Another test of this binary may run meanwhile: counters only grow.
    let before = actix_sse::metrics();
    let mut stream = sse_test::get(&app, "/json").await;
    assert_eq!(stream.events().await.len(), 2);
    drop(stream);

    let mut res = sse_test::get(&app, "/metrics").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = res.text().await;
    let value = |name: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.split(' ').next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("actix_sse_streams_opened_total") > before.streams_opened);
    assert!(value("actix_sse_events_sent_total") >= before.events_sent + 2);
    assert!(
        value("actix_sse_streams_ended_total{reason=\"close\"}") > before.ended_close,
        "{text}"
    );
    for name in [
        "actix_sse_streams_open",
        "actix_sse_bytes_sent_total",
        "actix_sse_events_refused_total",
        "actix_sse_heartbeats_total",
        "actix_sse_streams_ended_total{reason=\"disconnect\"}",
        "actix_sse_streams_ended_total{reason=\"error\"}",
        "actix_sse_streams_ended_total{reason=\"panic\"}",
        "actix_sse_channel_subscribers_lagged_total{outcome=\"ended\"}",
        "actix_sse_channel_subscribers_lagged_total{outcome=\"reset\"}",
    ] {
        value(name);
    }
    // Every sample has its HELP and TYPE.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
    }
}
