//! The client's parser against Chromium's `EventSource` on the same bytes: a corpus of the
//! WHATWG rules' corners (BOM, CR / LF / CRLF, one space removed, a field without colon,
//! an id with NUL ignored, an empty id resetting the last event id, an id-only block,
//! `retry`, comments, unknown fields, invalid UTF-8, an unfinished last event), served by a
//! real server, then `204`. Both must read the same events with the same types, data and
//! last event ids (headless Chromium through `tests/browser/client_parse.mjs`).
//!
//! Needs what `tests/it/browser.rs` needs; without it, it fails saying what to install.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_sse::client::EventSource;
use actix_web::{web, App, HttpResponse};
use futures_util::StreamExt;

const CORPUS: &[u8] = b"\xEF\xBB\xBF: a comment after a BOM\r\n\
retry: 10\n\
data: first\r\
data:  two spaces\r\n\
\n\
id: 7\nevent: update\ndata\n\n\
data: x\ndata:\n\n\
event: ns:\xC3\xA9v\xC3\xA9\nid: a\x00b\ndata: an id with NUL is ignored\n\n\
id\ndata: reset\n\n\
data: a\xE2\x80\xA8b\tc\x0bd\n\n\
Data: ignored\nfoo: bar\ndata:  lead\n:comment inside\ndata: tail\n\n\
id: \xC3\xBC-\xF0\x9F\x8E\x89\n\n\
data: after an id-only block\n\n\
data: bad \xFF byte\r\n\r\n\
event: update\ndata: crlf end\r\n\r\n\
data: unfinished";

const TYPES: &str = r#"["update", "ns:évé"]"#;

async fn bytes(count: web::Data<AtomicUsize>) -> HttpResponse {
    if count.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
        return HttpResponse::NoContent().finish();
    }
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .body(CORPUS)
}

#[actix_web::test]
async fn browser_the_client_reads_what_chromium_reads() {
    common::browser::require();
    let count = web::Data::new(AtomicUsize::new(0));
    let data = count.clone();
    let (addr, _srv) = serve!(move || App::new()
        .app_data(data.clone())
        .route("/bytes", web::get().to(bytes))
        .route(
            "/page",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("text/html")
                    .body("<!doctype html><title>client</title>")
            })
        ));
    let report = common::browser::run(
        60,
        "client_parse.mjs",
        vec![format!("http://{addr}"), TYPES.into()],
    )
    .await;
    let chromium: Vec<(String, String, String)> = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            (s("type"), s("data"), s("id"))
        })
        .collect();
    assert!(chromium.len() >= 10, "{report}");

    let events = common::within(
        5,
        "connect",
        EventSource::get(format!("http://{addr}/bytes")).connect(),
    )
    .await
    .unwrap();
    let ours: Vec<(String, String, String)> =
        common::within(5, "the stream", events.collect::<Vec<_>>())
            .await
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.event_type().to_owned(),
                    e.data().to_owned(),
                    e.last_event_id().to_owned(),
                )
            })
            .collect();
    assert_eq!(ours, chromium);
}
