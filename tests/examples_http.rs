//! The channel examples (`chat`, `notifications`) as a client uses them: their own routes on
//! a real server, published to over HTTP, read by the independent parser.

mod common;

#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod chat;

#[path = "../examples/notifications.rs"]
#[allow(dead_code)]
mod notifications;

use std::time::{Duration, Instant};

use actix_sse::prelude::*;
use actix_web::{web, App};
use common::{events, within, Parsed};
use futures_util::StreamExt;

async fn post(url: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut resp = within(
        5,
        "POST",
        awc::Client::new()
            .post(url)
            .insert_header(("content-type", content_type))
            .send_body(body.to_owned()),
    )
    .await
    .expect("POST");
    let text = within(5, "POST body", resp.body()).await.unwrap();
    (
        resp.status().as_u16(),
        String::from_utf8(text.to_vec()).unwrap(),
    )
}

async fn wait_for_subscribers(hub: &Channels, topic: &str, n: usize) {
    let start = Instant::now();
    while hub.subscriber_count(topic) != n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{topic}: {} subscribers, expected {n}",
            hub.subscriber_count(topic)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn next(evs: &mut (impl futures_util::Stream<Item = Parsed> + Unpin)) -> Parsed {
    within(5, "next event", evs.next())
        .await
        .expect("the stream goes on")
}

fn said(ev: &Parsed) -> (&str, &str) {
    (ev.event.as_str(), ev.data.as_str())
}

#[actix_web::test]
async fn chat_delivers_with_ids_and_resumes_from_the_header_or_the_query() {
    let hub = Channels::new();
    let data = web::Data::new(hub.clone());
    let (addr, _srv) = serve!(
        move || App::new().app_data(data.clone()).configure(chat::configure),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    let (chat_url, say_url) = (format!("http://{addr}/chat"), format!("http://{addr}/say"));

    let (status, headers, mut alice) = events(&chat_url, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "text/event-stream");
    assert_eq!(said(&next(&mut alice).await), ("system", "1 here"));
    let (_, _, mut bob) = events(&chat_url, &[]).await;
    assert_eq!(said(&next(&mut bob).await), ("system", "2 here"));

    let mut ids = Vec::new();
    for text in ["hi", "two\nlines", "three"] {
        let (status, id) = post(&say_url, "text/plain", text).await;
        assert_eq!(status, 200);
        ids.push(id);
    }
    for client in [&mut alice, &mut bob] {
        for (text, id) in ["hi", "two\nlines", "three"].iter().zip(&ids) {
            let ev = next(client).await;
            assert_eq!(
                (said(&ev), ev.id.as_str()),
                (("message", *text), id.as_str())
            );
        }
    }

    // Bob leaves after "hi"'s id was his last; two messages are said while he is away.
    drop(bob);
    wait_for_subscribers(&hub, "chat", 1).await;
    let (_, four) = post(&say_url, "text/plain", "four").await;
    next(&mut alice).await;

    // A reconnect by the browser carries the header: everything after it, once, then live.
    let (_, _, mut bob) = events(&chat_url, &[("last-event-id", ids[0].as_bytes())]).await;
    assert_eq!(said(&next(&mut bob).await), ("system", "2 here"));
    for (text, id) in [("two\nlines", &ids[1]), ("three", &ids[2]), ("four", &four)] {
        let ev = next(&mut bob).await;
        assert_eq!((said(&ev), &ev.id), (("message", text), id));
    }
    post(&say_url, "text/plain", "five").await;
    assert_eq!(said(&next(&mut bob).await), ("message", "five"));
    drop(bob);

    // A page that rejoins passes it in the query; the header wins when both are there.
    let query = format!("{chat_url}?lastEventId={}", ids[2]);
    let (_, _, mut carol) = events(&query, &[]).await;
    assert_eq!(said(&next(&mut carol).await).0, "system");
    assert_eq!(said(&next(&mut carol).await), ("message", "four"));
    drop(carol);
    let (_, _, mut dave) = events(&query, &[("last-event-id", four.as_bytes())]).await;
    assert_eq!(said(&next(&mut dave).await).0, "system");
    assert_eq!(said(&next(&mut dave).await), ("message", "five"));
    drop(dave);

    // An id the room never gave: a reset, never a guess.
    let (_, _, mut eve) = events(&format!("{chat_url}?lastEventId=nonsense"), &[]).await;
    assert_eq!(said(&next(&mut eve).await).0, "system");
    assert_eq!(said(&next(&mut eve).await), ("reset", "unknown-id"));
}

#[actix_web::test]
async fn notifications_reach_their_user_and_everyone_and_resume_across_both_topics() {
    let hub = notifications::hub();
    let data = web::Data::new(hub.clone());
    let (addr, _srv) = serve!(
        move || App::new()
            .app_data(data.clone())
            .configure(notifications::configure),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    let json = "application/json";
    let base = format!("http://{addr}");

    let (status, _, mut ada) = events(&format!("{base}/notifications/ada"), &[]).await;
    assert_eq!(status, 200);
    wait_for_subscribers(&hub, "user/ada", 1).await;
    wait_for_subscribers(&hub, "everyone", 1).await;

    let (status, first) = post(
        &format!("{base}/notify/ada"),
        json,
        r##"{"title":"build passed","body":"#42"}"##,
    )
    .await;
    assert_eq!(status, 202);
    post(
        &format!("{base}/notify/bob"),
        json,
        r#"{"title":"not for ada"}"#,
    )
    .await;
    post(
        &format!("{base}/notify"),
        json,
        r#"{"title":"maintenance"}"#,
    )
    .await;

    let ev = next(&mut ada).await;
    assert_eq!(
        (said(&ev), ev.id.as_str()),
        (
            ("notification", r##"{"title":"build passed","body":"#42"}"##),
            first.as_str()
        )
    );
    let ev = next(&mut ada).await;
    assert_eq!(said(&ev), ("notification", r#"{"title":"maintenance"}"#));
    drop(ada);
    wait_for_subscribers(&hub, "user/ada", 0).await;

    // While ada is away: one for her, one for everybody, one for bob.
    post(&format!("{base}/notify"), json, r#"{"title":"party"}"#).await;
    post(
        &format!("{base}/notify/bob"),
        json,
        r#"{"title":"bob only"}"#,
    )
    .await;
    post(&format!("{base}/notify/ada"), json, r#"{"title":"review"}"#).await;

    // One Last-Event-ID resumes both of her topics, in publish order.
    let (_, _, mut ada) = events(
        &format!("{base}/notifications/ada"),
        &[("last-event-id", first.as_bytes())],
    )
    .await;
    let got: Vec<String> = vec![
        next(&mut ada).await.data,
        next(&mut ada).await.data,
        next(&mut ada).await.data,
    ];
    assert_eq!(
        got,
        [
            r#"{"title":"maintenance"}"#,
            r#"{"title":"party"}"#,
            r#"{"title":"review"}"#
        ]
    );

    // A body that is not a notification is refused and publishes nothing.
    let before = hub.publish("probe", "x").await.unwrap();
    let (status, _) = post(
        &format!("{base}/notify/ada"),
        json,
        r#"{"body":"no title"}"#,
    )
    .await;
    assert_eq!(status, 400);
    let after = hub.publish("probe", "y").await.unwrap();
    assert_eq!(
        after.sequence(),
        before.sequence() + 1,
        "no id was used in between"
    );
}
