//! The demo: every example of Ktor's SSE documentation, served by actix-sse, and a live
//! dashboard at `/` that shows them in the browser.
//!
//! ```text
//! cargo run --example demo          # http://127.0.0.1:8080/  (PORT=... to change)
//! ```

use std::time::Duration;

use actix_sse::prelude::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Serialize;

// Ktor: sse("/events") { repeat(6) { send(ServerSentEvent("this is SSE #$it")); delay(1000) } }
#[sse("/events")]
async fn events() {
    for i in 0..6 {
        send!(format!("this is SSE #{i}"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// Ktor: heartbeat { period = 10.milliseconds; event = ServerSentEvent("heartbeat") }
// The handler sends nothing and stays open, so the stream is idle and heartbeats flow.
#[sse("/heartbeat", heartbeat = "10ms", heartbeat_event = Event::data("heartbeat"))]
async fn heartbeat() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Customer {
    id: u32,
    first_name: String,
    last_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Product {
    id: u32,
    prices: Vec<u32>,
}

// Ktor: sse("/json", serialize = { typeInfo, it -> Json.encodeToString(..) }) { send(..) }
#[sse("/json", serialize = json)]
async fn json() {
    send!(Customer {
        id: 0,
        first_name: "Jet".into(),
        last_name: "Brains".into(),
    });
    send!(Product {
        id: 0,
        prices: vec![100, 200],
    });
}

/// A live clock: one event a second, with the server's time.
#[sse("/clock")]
async fn clock() {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        send!(
            format!(
                "{:02}:{:02}:{:02} UTC",
                secs / 3600 % 24,
                secs / 60 % 60,
                secs % 60
            ),
            event = "time"
        );
    }
}

/// A resumable counter from 0 to 9: five numbered events per connection, then the stream
/// ends; the browser reconnects after `retry` with `Last-Event-ID` and the count resumes.
/// Once the client has id 9 the job is done: `204 No Content` stops its `EventSource` for
/// good.
#[sse("/counter", retry = "1s")]
async fn counter(last: LastEventId<u64>) {
    // The client has every event: stop its EventSource (a garbage id reads as absent).
    if last.get() == Some(&LAST_COUNT) {
        reject!(HttpResponse::NoContent());
    }
    let start = last.map_or(0, |n| n + 1);
    let resumed = last.map_or("fresh start".to_owned(), |id| {
        format!("resumed after id {id}")
    });
    send!(resumed, event = "session");
    for n in start..(start + 5).min(LAST_COUNT + 1) {
        send!(n.to_string(), id = n);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The counter's last id.
const LAST_COUNT: u64 = 9;

// Ktor: sse { .. } without a path: a plain handler, mounted with `web::get().to(..)`.
#[sse(heartbeat = "1s")]
async fn feed(req: actix_web::HttpRequest) {
    let agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown client")
        .to_owned();
    send!(format!("hello, {agent}"), event = "greeting");
    for i in 1..=3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        send!(format!("feed item {i}"));
    }
}

/// The process's SSE counters (open streams, events, bytes, heartbeats, how streams ended)
/// in the Prometheus text format, for a scraper.
async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(actix_sse::metrics().to_prometheus())
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("page.html"))
}

/// Every route of the demo (the browser test mounts the same).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .service(events)
        .service(heartbeat)
        .service(json)
        .service(clock)
        .service(counter)
        .route("/feed", web::get().to(feed))
        .route("/metrics", web::get().to(metrics));
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let server = HttpServer::new(|| App::new().configure(configure))
        // Notice a vanished client at once instead of at the next heartbeat write, and on
        // Ctrl-C (SIGINT) or SIGTERM end every stream cleanly, then stop (in about 0.3 s):
        // browsers reconnect to the next instance and resume with `Last-Event-ID`.
        .sse_defaults()
        .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("actix-sse demo: open http://{addr}/ (Ctrl-C to stop)");
    }
    server.run().await
}
