//! Hostile load over real HTTP, read by the independent parser: a client that never reads
//! is let go at its queue's byte bound, and a flood of rooms stays within the hub's memory
//! budget, with a `reset` for whoever resumes into evicted history.

use crate::common;

use std::time::{Duration, Instant};

use actix_sse::{prelude::*, Stream};
use actix_web::{web, App, HttpResponse};
use common::{events, raw_request, within};
use futures_util::StreamExt;

#[sse("/rooms/{room}")]
async fn room_events(
    room: web::Path<String>,
    hub: web::Data<Channels>,
    last: LastEventId,
) -> impl Stream<Item = ChannelEvent> {
    hub.subscribe(&room, &last).await
}

async fn say(room: web::Path<String>, hub: web::Data<Channels>, body: String) -> HttpResponse {
    match hub.publish(&room, body).await {
        Ok(id) => HttpResponse::Ok().body(id.to_string()),
        Err(err) => HttpResponse::BadRequest().body(err.to_string()),
    }
}

/// A server with the rooms' routes, set up by `.sse_defaults()`.
fn start(hub: &Channels) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    let hub = hub.clone();
    serve!(
        move || App::new()
            .app_data(web::Data::new(hub.clone()))
            .configure(routes),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    )
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(room_events)
        .route("/rooms/{room}", web::post().to(say));
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[actix_web::test]
async fn a_client_that_never_reads_is_let_go_at_its_byte_bound() {
    let hub = Channels::new();
    let (addr, _srv) = start(&hub);
    // Connects, reads the head, then never reads again.
    let (stalled, head, _) = raw_request(addr, "GET", "/rooms/slow", "", "").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    until("subscribed", || hub.subscriber_count("slow") == 1).await;

    // 64 KiB events: the socket's buffers fill, then the stream's, then the queue's
    // 256 KiB. Each publish is followed by a pause so the server can write.
    let data = "x".repeat(64 * 1024);
    let mut published = 0;
    while hub.subscriber_count("slow") == 1 {
        assert!(
            published < 2_000,
            "still subscribed after {published} events"
        );
        hub.publish("slow", data.as_str()).await.unwrap();
        published += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Let go (Lag::End): far fewer events than the old bound of 1,024 queued events.
    assert!(published < 1_000, "{published} events of 64 KiB");
    drop(stalled);

    // A reader that keeps up is not affected.
    let (_, _, mut evs) = events(&format!("http://{addr}/rooms/fast"), &[]).await;
    until("subscribed", || hub.subscriber_count("fast") == 1).await;
    for _ in 0..50 {
        hub.publish("fast", data.as_str()).await.unwrap();
        let ev = within(5, "event", evs.next()).await.unwrap();
        assert_eq!(ev.data.len(), data.len());
    }
    assert_eq!(hub.subscriber_count("fast"), 1);
}

#[actix_web::test]
async fn a_flood_of_rooms_stays_within_the_budget_and_resumes_with_a_reset() {
    const BUDGET: usize = 128 * 1024;
    let hub = Channels::builder().memory_budget(BUDGET).build();
    let (addr, _srv) = start(&hub);
    let client = awc::Client::new();
    let post = |room: String| {
        let req = client.post(format!("http://{addr}/rooms/{room}"));
        async move {
            let mut resp = within(5, "publish", req.send_body("0123456789abcdef"))
                .await
                .unwrap();
            assert!(resp.status().is_success());
            String::from_utf8(resp.body().await.unwrap().to_vec()).unwrap()
        }
    };
    let first = post("room-0".into()).await;
    for i in 1..3_000 {
        post(format!("room-{i}")).await;
        assert!(hub.memory_used() <= BUDGET);
    }
    assert!(hub.topic_count() < 500, "{} rooms kept", hub.topic_count());

    // Resuming into the first room, whose history was evicted: a reset, then live.
    let url = format!("http://{addr}/rooms/room-0");
    let (status, _, mut evs) = events(&url, &[("last-event-id", first.as_bytes())]).await;
    assert_eq!(status, 200);
    let reset = within(5, "reset", evs.next()).await.unwrap();
    assert_eq!(
        (reset.event.as_str(), reset.data.as_str()),
        ("reset", "trimmed")
    );
    until("subscribed", || hub.subscriber_count("room-0") == 1).await;
    let id = post("room-0".into()).await;
    let ev = within(5, "live event", evs.next()).await.unwrap();
    assert_eq!((ev.id, ev.data.as_str()), (id, "0123456789abcdef"));
}

#[actix_web::test]
async fn an_unreadable_last_event_id_gets_a_reset_never_a_silent_gap() {
    let hub = Channels::new();
    let (addr, _srv) = start(&hub);
    let url = format!("http://{addr}/rooms/r");
    let head = hub.publish("r", "before").await.unwrap().to_string();
    let too_long = "7".repeat(16 * 1024);
    let not_utf8: &[u8] = &[b'e', 0xff, b'-', b'1'];
    for (what, last) in [("16 KiB", too_long.as_bytes()), ("not UTF-8", not_utf8)] {
        let (status, _, mut evs) = events(&url, &[("last-event-id", last)]).await;
        assert_eq!(status, 200, "{what}");
        let reset = within(5, "reset", evs.next()).await.unwrap();
        assert_eq!(
            (reset.event.as_str(), reset.data.as_str(), reset.id.as_str()),
            ("reset", "unknown-id", head.as_str()),
            "{what}"
        );
    }
    // The same header twice: which one is meant cannot be known.
    let (mut conn, resp_head, body) = raw_request(
        addr,
        "GET",
        "/rooms/r",
        &format!("Last-Event-ID: {head}\r\nLast-Event-ID: {head}\r\n"),
        "",
    )
    .await;
    assert!(resp_head.starts_with("HTTP/1.1 200"), "{resp_head}");
    let mut body = body;
    while !String::from_utf8_lossy(&body).contains("unknown-id") {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1024];
        let n = within(5, "reset", conn.read(&mut buf)).await.unwrap();
        assert!(n > 0, "closed before the reset");
        body.extend_from_slice(&buf[..n]);
    }
    drop(conn);
    until("the others left", || hub.subscriber_count("r") == 0).await;
    // No header at all: live only, no reset.
    let (_, _, mut evs) = events(&url, &[]).await;
    until("subscribed", || hub.subscriber_count("r") == 1).await;
    let id = hub.publish("r", "live").await.unwrap().to_string();
    let ev = within(5, "live", evs.next()).await.unwrap();
    assert_eq!((ev.event.as_str(), ev.id), ("message", id));
}
