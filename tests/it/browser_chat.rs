//! The chat example in a real browser (headless Chromium, `tests/browser/chat.mjs`): two
//! pages; one leaves while messages are said, rejoins, and shows each missed message once,
//! in order, with the same ids as the page that stayed. Screenshot:
//! `target/browser/chat.png`.
//!
//! Needs what `tests/it/browser.rs` needs; without it, it fails saying what to install.

use crate::common;

use crate::chat;

use std::path::PathBuf;

use actix_sse::prelude::*;
use actix_web::{web, App};
use serde_json::Value;

fn texts(page: &Value) -> Vec<(&str, &str)> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["text"].as_str().unwrap()))
        .collect()
}

#[actix_web::test]
async fn browser_a_page_that_leaves_and_rejoins_shows_every_missed_message_once() {
    common::browser::require();
    let hub = web::Data::new(Channels::new());
    let (addr, _srv) = serve!(
        move || App::new().app_data(hub.clone()).configure(chat::configure),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser/chat.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let report = common::browser::run(
        60,
        "chat.mjs",
        vec![format!("http://{addr}/"), shot.display().to_string()],
    )
    .await;
    eprintln!("browser saw: {report}");

    let (a, b) = (texts(&report["a"]), texts(&report["b"]));
    let said: Vec<&str> = a.iter().map(|m| m.1).collect();
    assert_eq!(said, ["m1", "m2", "m3", "m4", "m5", "m6"], "{report}");
    assert_eq!(a, b, "both pages show the same messages with the same ids");
    assert!(
        a.windows(2).all(|w| w[0].0 != w[1].0),
        "every message has its own id: {a:?}"
    );
    assert_eq!(
        report["a"]["resets"],
        serde_json::json!([]),
        "nothing was lost"
    );
    // The page shows them too, each once.
    let shown = report["a"]["shown"].to_string();
    for m in ["m3", "m4", "m5"] {
        assert_eq!(shown.matches(&format!(": {m}\"")).count(), 1, "{shown}");
    }
    assert!(
        report["consoleErrors"].as_array().unwrap().is_empty(),
        "{report}"
    );
}
