//! Typed resume on a real server: `LastEventId<u64>` parses the header, a garbage id reads
//! as unreadable (no id, and `is_unreadable`); `LastEventId::parse()?` answers it `400`
//! instead (the handler's choice).

use crate::common;

use actix_sse::prelude::*;
use actix_web::{http::StatusCode, App};
use common::{events, within};
use futures_util::StreamExt;

#[sse("/lenient")]
async fn lenient(last: LastEventId<u64>) {
    if last.is_unreadable() {
        send!("unreadable");
    }
    let start = last.map_or(0, |n| n + 1);
    for n in start..start + 2 {
        send!(n.to_string(), id = n);
    }
}

#[sse("/strict")]
async fn strict(last: LastEventId) -> actix_web::Result<()> {
    let start = last.parse::<u64>()?.map_or(0, |n| n + 1);
    send!(start.to_string(), id = start)?;
    Ok(())
}

async fn data(url: &str, last: &[u8]) -> Vec<String> {
    let (status, _, evs) = events(url, &[("last-event-id", last)]).await;
    assert_eq!(status, 200);
    within(5, "the stream", evs.map(|e| e.data).collect()).await
}

#[actix_web::test]
async fn a_typed_id_is_parsed_and_garbage_is_absent_or_400() {
    let (addr, _srv) = serve!(|| App::new().service(lenient).service(strict));
    let lenient_url = format!("http://{addr}/lenient");
    assert_eq!(data(&lenient_url, b"41").await, ["42", "43"]);
    assert_eq!(
        data(&lenient_url, b"garbage").await,
        ["unreadable", "0", "1"]
    );
    assert_eq!(data(&lenient_url, b"-1").await, ["unreadable", "0", "1"]);
    assert_eq!(data(&lenient_url, b"").await, ["0", "1"]);

    let strict_url = format!("http://{addr}/strict");
    assert_eq!(data(&strict_url, b"7").await, ["8"]);
    let resp = within(
        5,
        "the 400",
        awc::Client::new()
            .get(&strict_url)
            .insert_header(("last-event-id", "garbage"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
