//! The channel examples (`chat`, `notifications`) and the recipes (`jobs`, `auth`) as a
//! client uses them: their own routes on a real server, published to over HTTP, read by the
//! independent parser.

use crate::common;

use crate::auth;

use crate::chat;

use crate::jobs;

use crate::notifications;

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

/// Every event until the stream ends.
async fn to_end(evs: &mut (impl futures_util::Stream<Item = Parsed> + Unpin)) -> Vec<Parsed> {
    let mut all = Vec::new();
    while let Some(ev) = within(5, "next event or the end", evs.next()).await {
        all.push(ev);
    }
    all
}

fn is_event_stream(headers: &awc::http::header::HeaderMap) -> bool {
    headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}

/// `percent` of a progress event's JSON.
fn percent(ev: &Parsed) -> u64 {
    let json: serde_json::Value = serde_json::from_str(&ev.data).expect("JSON progress");
    json["percent"].as_u64().expect("a percent")
}

async fn serve_jobs(step: Duration) -> (std::net::SocketAddr, web::Data<jobs::Jobs>) {
    let data = web::Data::new(jobs::Jobs::new(step));
    let app_data = data.clone();
    let (addr, _srv) = serve!(
        move || App::new()
            .app_data(app_data.clone())
            .configure(jobs::configure),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    (addr, data)
}

#[actix_web::test]
async fn a_job_started_over_http_streams_rising_progress_then_done_then_answers_204() {
    // 10 steps of 300 ms: the stream below opens long before the job ends, even on a busy
    // machine.
    let (addr, _) = serve_jobs(Duration::from_millis(300)).await;
    let (status, id) = post(&format!("http://{addr}/jobs"), "text/plain", "").await;
    assert_eq!(status, 201);
    let url = format!("http://{addr}/jobs/{id}/progress");

    let (status, headers, mut evs) = events(&url, &[]).await;
    assert_eq!(status, 200);
    assert!(is_event_stream(&headers));
    let all = to_end(&mut evs).await;
    let (last, progress) = all.split_last().expect("events");
    assert!(!progress.is_empty(), "progress before done: {all:?}");
    for ev in progress {
        assert_eq!(ev.event, "message");
        assert!(percent(ev) < 100);
    }
    for ev in &all {
        assert_eq!(ev.id, percent(ev).to_string(), "the id is the percentage");
    }
    assert!(
        all.windows(2).all(|w| percent(&w[0]) < percent(&w[1])),
        "rising: {all:?}"
    );
    assert_eq!(
        (last.event.as_str(), last.data.as_str(), last.id.as_str()),
        ("done", r#"{"percent":100}"#, "100")
    );

    // Finished: `204` stops the client's `EventSource`.
    let (status, headers, _) = events(&url, &[]).await;
    assert_eq!(status, 204);
    assert!(!is_event_stream(&headers));
}

#[actix_web::test]
async fn jobs_answer_404_when_unknown_and_204_when_ended_short_of_100() {
    let (addr, jobs) = serve_jobs(Duration::from_secs(3600)).await;

    let (status, headers, _) = events(&format!("http://{addr}/jobs/999/progress"), &[]).await;
    assert_eq!(status, 404);
    assert!(!is_event_stream(&headers));

    // A job whose task died at 40 %: nothing more will come.
    let (id, progress) = jobs.create();
    progress.send_replace(jobs::Progress { percent: 40 });
    drop(progress);
    let (status, headers, _) = events(&format!("http://{addr}/jobs/{id}/progress"), &[]).await;
    assert_eq!(status, 204);
    assert!(!is_event_stream(&headers));
}

#[actix_web::test]
async fn a_job_stream_sends_changes_and_resumes_after_its_last_event_id() {
    let (addr, jobs) = serve_jobs(Duration::from_secs(3600)).await;
    // A job driven by the test, step by step.
    let (id, progress) = jobs.create();
    let set = |percent| {
        progress.send_replace(jobs::Progress { percent });
    };
    let url = format!("http://{addr}/jobs/{id}/progress");
    // The registry holds one receiver, each open stream one more.
    let streams = |n: usize| {
        let progress = &progress;
        async move {
            let start = Instant::now();
            while progress.receiver_count() != n + 1 {
                assert!(start.elapsed() < Duration::from_secs(5), "{n} streams");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };

    let (_, _, mut first) = events(&url, &[]).await;
    let ev = next(&mut first).await;
    assert_eq!((ev.event.as_str(), ev.id.as_str()), ("message", "0"));
    set(30);
    assert_eq!(next(&mut first).await.id, "30");
    drop(first);
    streams(0).await;

    // While away it went to 40, then 50: a watch keeps only the latest.
    set(40);
    set(50);
    let (_, _, mut second) = events(&url, &[("last-event-id", b"30")]).await;
    assert_eq!(next(&mut second).await.data, r#"{"percent":50}"#);
    drop(second);
    streams(0).await;

    // Back at 50, where it still is: nothing until it moves, then 60, done, the end.
    let ((_, _, mut third), ()) = tokio::join!(events(&url, &[("last-event-id", b"50")]), async {
        streams(1).await;
        set(60);
    });
    assert_eq!(next(&mut third).await.id, "60");
    set(100);
    let rest = to_end(&mut third).await;
    assert_eq!(
        rest.iter()
            .map(|ev| (ev.event.as_str(), ev.id.as_str()))
            .collect::<Vec<_>>(),
        [("done", "100")]
    );
    let (status, _, _) = events(&url, &[]).await;
    assert_eq!(status, 204, "done, though its sender is still held");
}

#[actix_web::test]
async fn auth_notifications_need_a_known_token_and_carry_only_their_own_users() {
    let hub = Channels::new();
    let hub_data = web::Data::new(hub.clone());
    let sessions = web::Data::new(auth::Sessions::demo());
    let (addr, _srv) = serve!(
        move || App::new()
            .app_data(hub_data.clone())
            .app_data(sessions.clone())
            .configure(auth::configure),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    let base = format!("http://{addr}");
    let url = format!("{base}/notifications");
    let notify = |user: &str, text: &str| {
        let to = format!("{base}/notify/{user}");
        let text = text.to_owned();
        async move {
            let (status, id) = post(&to, "text/plain", &text).await;
            assert_eq!(status, 202);
            id
        }
    };

    let refused: [&[(&str, &[u8])]; 5] = [
        &[],
        &[("authorization", b"Bearer nope")],
        &[("authorization", b"Basic YWRhLXRva2VuOg==")],
        &[("cookie", b"session=nope")],
        &[("cookie", b"ada-token=session")],
    ];
    for headers in refused {
        let (status, head, _) = events(&url, headers).await;
        assert_eq!(status, 401, "{headers:?}");
        assert_eq!(head.get("www-authenticate").unwrap(), "Bearer");
        assert!(!is_event_stream(&head));
    }
    assert_eq!(hub.subscriber_count("user/ada"), 0);

    // Ada by her bearer token, bob by his cookie (among others).
    let (status, head, mut ada) = events(&url, &[("authorization", b"Bearer ada-token")]).await;
    assert_eq!(status, 200);
    assert!(is_event_stream(&head));
    wait_for_subscribers(&hub, "user/ada", 1).await;
    let (status, _, mut bob) = events(&url, &[("cookie", b"theme=dark; session=bob-token")]).await;
    assert_eq!(status, 200);
    wait_for_subscribers(&hub, "user/bob", 1).await;

    // Each published before the other's: had it reached the wrong stream, it would be
    // that stream's next event.
    notify("bob", "for bob").await;
    let for_ada = notify("ada", "for ada").await;
    notify("bob", "bob again").await;
    let ev = next(&mut ada).await;
    assert_eq!(
        (said(&ev), ev.id.as_str()),
        (("notification", "for ada"), for_ada.as_str())
    );
    assert_eq!(said(&next(&mut bob).await), ("notification", "for bob"));
    notify("ada", "ada again").await;
    assert_eq!(said(&next(&mut bob).await), ("notification", "bob again"));
    assert_eq!(said(&next(&mut ada).await), ("notification", "ada again"));

    // Back after "for ada": what she missed of hers, nothing of bob's.
    drop(ada);
    wait_for_subscribers(&hub, "user/ada", 0).await;
    notify("bob", "bob while ada is away").await;
    notify("ada", "while away").await;
    let (_, _, mut ada) = events(
        &url,
        &[
            ("cookie", b"session=ada-token"),
            ("last-event-id", for_ada.as_bytes()),
        ],
    )
    .await;
    assert_eq!(said(&next(&mut ada).await).1, "ada again");
    assert_eq!(said(&next(&mut ada).await).1, "while away");
}
