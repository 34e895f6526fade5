//! The demo's routes reproduce Ktor's SSE documentation, read over real HTTP with an
//! independent parser (`eventsource-stream`).

mod common;

#[path = "../examples/demo/main.rs"]
#[allow(dead_code)]
mod demo;

use std::time::{Duration, Instant};

use actix_web::App;
use common::{events, within};
use futures_util::StreamExt;

#[actix_web::test]
async fn events_are_six_messages_one_second_apart_then_a_clean_end() {
    let (addr, _srv) = serve!(|| App::new().configure(demo::configure));
    let (status, headers, mut evs) = events(&format!("http://{addr}/events"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "text/event-stream");
    let mut arrivals = Vec::new();
    let start = Instant::now();
    while let Some(ev) = within(5, "next event", evs.next()).await {
        assert_eq!(ev.event, "message");
        arrivals.push((start.elapsed(), ev.data));
    }
    let data: Vec<&str> = arrivals.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(
        data,
        (0..6)
            .map(|i| format!("this is SSE #{i}"))
            .collect::<Vec<_>>()
    );
    for pair in arrivals.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap > Duration::from_millis(900) && gap < Duration::from_millis(1500),
            "gap {gap:?} between {:?} and {:?}",
            pair[0].1,
            pair[1].1
        );
    }
}

#[actix_web::test]
async fn heartbeat_sends_the_custom_event_every_10ms() {
    let (addr, _srv) = serve!(|| App::new().configure(demo::configure));
    let (_, _, mut evs) = events(&format!("http://{addr}/heartbeat"), &[]).await;
    let start = Instant::now();
    let mut beats = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        let ev = within(5, "heartbeat", evs.next())
            .await
            .expect("stream open");
        assert_eq!(
            (ev.event.as_str(), ev.data.as_str()),
            ("message", "heartbeat")
        );
        beats += 1;
    }
    assert!(beats >= 40, "{beats} heartbeats in 1.5 s");
}

#[actix_web::test]
async fn json_sends_the_two_objects_with_camel_case_names() {
    let (addr, _srv) = serve!(|| App::new().configure(demo::configure));
    let (_, _, evs) = events(&format!("http://{addr}/json"), &[]).await;
    let data: Vec<String> = within(5, "json", evs.map(|e| e.data).collect()).await;
    assert_eq!(
        data,
        [
            r#"{"id":0,"firstName":"Jet","lastName":"Brains"}"#,
            r#"{"id":0,"prices":[100,200]}"#
        ]
    );
}

#[actix_web::test]
async fn the_route_without_a_path_is_mounted_by_hand() {
    let (addr, _srv) = serve!(|| App::new().configure(demo::configure));
    let (_, _, evs) = events(
        &format!("http://{addr}/feed"),
        &[("user-agent", b"test-agent")],
    )
    .await;
    let got: Vec<(String, String)> =
        within(5, "feed", evs.map(|e| (e.event, e.data)).collect()).await;
    assert_eq!(
        got[0],
        ("greeting".to_owned(), "hello, test-agent".to_owned())
    );
    assert_eq!(got.len(), 4);
}

#[actix_web::test]
async fn counter_resumes_after_last_event_id_and_stops_at_9() {
    let (addr, _srv) = serve!(|| App::new().configure(demo::configure));
    let url = format!("http://{addr}/counter");
    let (_, _, evs) = events(&url, &[("last-event-id", b"3")]).await;
    let got: Vec<(String, String, String)> =
        within(5, "counter", evs.map(|e| (e.event, e.data, e.id)).collect()).await;
    assert_eq!(got[0].1, "resumed after id 3");
    let ids: Vec<&str> = got[1..].iter().map(|(_, _, id)| id.as_str()).collect();
    assert_eq!(ids, ["4", "5", "6", "7", "8"]);

    // The last stretch stops at 9 …
    let (_, _, evs) = events(&url, &[("last-event-id", b"7")]).await;
    let got: Vec<String> = within(5, "counter", evs.map(|e| e.id).collect()).await;
    assert_eq!(got[1..], ["8", "9"]);

    // … and a client that has 9 is told to stop (WIRE 36).
    let resp = within(
        5,
        "the 204",
        awc::Client::new()
            .get(&url)
            .insert_header(("last-event-id", "9"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 204);
}
