//! The demo page in a real browser: Debian's headless Chromium, driven by playwright-core
//! (`tests/browser/check.mjs`), against the demo's own routes on 127.0.0.1. Asserts what a
//! person would see and saves a screenshot to `target/browser/demo.png`.
//!
//! Needs `chromium` and `npm ci` in `tests/browser` (`.ci/run` does both). Without them the
//! test fails, saying what to install (`cargo test -- --skip browser_` leaves it out).

use crate::common;

use crate::demo;

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use actix_sse::SseServerExt;
use actix_web::{dev::Service, App};
use serde_json::Value;

#[actix_web::test]
async fn browser_the_demo_page_shows_every_stream() {
    common::browser::require();
    // Requests to /counter, counted on the server: the browser must stop after the 204.
    let counter_requests = Arc::new(AtomicUsize::new(0));
    let seen_by_server = counter_requests.clone();
    let (addr, _srv) = serve!(
        move || {
            let seen = seen_by_server.clone();
            App::new()
                .wrap_fn(move |req, srv| {
                    if req.path() == "/counter" {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                    srv.call(req)
                })
                .configure(demo::configure)
        },
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shot = root.join("target/browser/demo.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let report: Value = common::browser::run(
        90,
        "check.mjs",
        vec![format!("http://{addr}/"), shot.display().to_string()],
    )
    .await;
    let seen = &report["seen"];
    eprintln!("browser saw: {seen}");

    // /events: the six messages, in order.
    let events: Vec<&str> = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        (0..6)
            .map(|i| format!("this is SSE #{i}"))
            .collect::<Vec<_>>()
    );
    // /json: both objects, rendered, with Ktor's camelCase names.
    assert_eq!(
        seen["json"],
        serde_json::json!([{"id":0,"firstName":"Jet","lastName":"Brains"},{"id":0,"prices":[100,200]}])
    );
    // /heartbeat: counted, and at roughly 100 per second (10 ms period; ≥ 40/s).
    assert!(seen["heartbeatCount"].as_u64().unwrap() >= 200, "{seen}");
    assert!(seen["heartbeatRate"].as_u64().unwrap() >= 40, "{seen}");
    // /clock: a time is shown.
    let clock = seen["clock"].as_str().unwrap();
    assert!(clock.len() == 8 && clock.as_bytes()[2] == b':', "{clock}");
    // /counter: the reconnect resumed after the last id seen, the ids go on to 9, then the
    // reconnect with `Last-Event-ID: 9` got 204 and the browser stopped for good: three
    // requests (0-4, 5-9, the 204), two reconnects, the page shows it finished.
    let log = seen["counterLog"].to_string();
    assert!(
        log.contains("fresh start") && log.contains("resumed after id 4"),
        "{log}"
    );
    assert!(log.contains("finished"), "{log}");
    let ids: Vec<u64> = seen["counterIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, (0..10).collect::<Vec<_>>(), "{ids:?}");
    assert_eq!(seen["status"]["counter"], "finished", "{seen}");
    assert_eq!(seen["counterReconnects"], 2, "{seen}");
    assert_eq!(counter_requests.load(Ordering::SeqCst), 3);
    // /feed (no path in the attribute): greeting + three items.
    let feed = seen["feed"].as_array().unwrap();
    assert!(feed[0].as_str().unwrap().starts_with("hello, "), "{feed:?}");
    assert_eq!(
        feed[1..4],
        [
            serde_json::json!("feed item 1"),
            serde_json::json!("feed item 2"),
            serde_json::json!("feed item 3")
        ]
    );
    // The screenshot is a page, not a blank.
    let shot = &report["screenshot"];
    assert!(
        shot["distinct"].as_u64().unwrap() > 50,
        "screenshot looks blank: {shot}"
    );
    assert!(
        report["consoleErrors"].as_array().unwrap().is_empty(),
        "{report}"
    );
}
