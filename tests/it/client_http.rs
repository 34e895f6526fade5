//! `actix_sse::client` against real servers on 127.0.0.1: resume after the server is
//! stopped and started again on the same port, `204` stops, other statuses and content
//! types fail with errors naming them, `retry` and an empty `id:` honoured (on tokio's
//! paused clock), backoff with jitter and a bound on attempts, a POST with a body and
//! headers read as JSON, back-pressure, and the memory bound against an endless line.
//! Every wait is bounded.

use crate::common;

use std::{
    cell::RefCell,
    rc::Rc,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use actix_sse::client::{Error, EventSource, Reconnect};
use actix_sse::prelude::*;
use actix_web::{web, App, HttpRequest, HttpResponse};
use common::within;
use futures_util::StreamExt;

/// Endless numbered events from after `Last-Event-ID`, reconnect after 50 ms.
#[sse("/numbers", retry = "50ms")]
async fn numbers(last: LastEventId<u64>) {
    let start = last.map_or(0, |n| n + 1);
    for n in start.. {
        send!(n.to_string(), id = n);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn start_numbers(port: u16) -> actix_web::dev::ServerHandle {
    serve!(port port, || App::new().service(numbers)).1
}

// WIRE 34, 35: after the server went away and came back, the client resumes from the last
// id it read, exactly: no event lost, none twice.
#[actix_web::test]
async fn resumes_exactly_after_the_server_is_stopped_and_started_again() {
    let port = common::free_port();
    let first = start_numbers(port);
    let reconnects = Rc::new(RefCell::new(Vec::<Reconnect>::new()));
    let seen = reconnects.clone();
    let mut events = within(
        5,
        "connect",
        EventSource::get(format!("http://127.0.0.1:{port}/numbers"))
            .max_backoff(Duration::from_millis(200))
            .on_reconnect(move |r| seen.borrow_mut().push(r.clone()))
            .connect(),
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    while got.len() < 20 {
        let ev = within(5, "an event", events.next()).await.unwrap().unwrap();
        got.push(ev.data().parse::<u64>().unwrap());
    }
    // Kill the server (no graceful end of the streams), wait while the client fails to
    // reconnect, then start it again on the same port.
    within(5, "stop", first.stop(false)).await;
    let restart = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        start_numbers(port)
    };
    let read = async {
        while got.len() < 60 {
            let ev = within(10, "an event", events.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(ev.last_event_id(), ev.data());
            got.push(ev.data().parse::<u64>().unwrap());
        }
    };
    let (second, ()) = tokio::join!(restart, read);
    assert_eq!(
        got,
        (0..60).collect::<Vec<_>>(),
        "every event once, in order"
    );
    let reconnects = reconnects.borrow().clone();
    assert!(reconnects.len() >= 2, "{reconnects:?}");
    assert_eq!(reconnects[0].attempt, 1);
    assert_eq!(
        reconnects[0].delay,
        Duration::from_millis(50),
        "the server's retry"
    );
    assert!(
        reconnects
            .iter()
            .any(|r| r.reason.contains("reconnection failed")),
        "attempts while the server was away: {reconnects:?}"
    );
    assert!(reconnects
        .iter()
        .all(|r| r.last_event_id == reconnects[0].last_event_id));
    second.stop(false).await;
}

/// Two events, then `204` for every reconnection.
async fn twice_then_204(req: HttpRequest, hits: web::Data<AtomicUsize>) -> HttpResponse {
    hits.fetch_add(1, Ordering::SeqCst);
    if req.headers().contains_key("last-event-id") {
        return HttpResponse::NoContent().finish();
    }
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .body("retry: 10\nid: 1\ndata: a\n\nid: 2\ndata: b\n\n")
}

// WIRE 36: 204 stops the client, on the first request and on a reconnection.
#[actix_web::test]
async fn no_content_ends_the_stream_for_good() {
    let hits = web::Data::new(AtomicUsize::new(0));
    let data = hits.clone();
    let (addr, _srv) = serve!(move || App::new()
        .app_data(data.clone())
        .route("/once", web::get().to(twice_then_204))
        .route("/never", web::get().to(HttpResponse::NoContent)));

    let events = within(
        5,
        "connect",
        EventSource::get(format!("http://{addr}/once")).connect(),
    )
    .await
    .unwrap();
    let got: Vec<_> = within(5, "the stream", events.collect::<Vec<_>>()).await;
    let got: Vec<_> = got
        .into_iter()
        .map(|e| e.unwrap().data().to_owned())
        .collect();
    assert_eq!(got, ["a", "b"]);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "one reconnection, answered 204"
    );

    let mut never = within(
        5,
        "connect",
        EventSource::get(format!("http://{addr}/never")).connect(),
    )
    .await
    .unwrap();
    assert_eq!(never.status(), 204);
    assert!(within(5, "the end", never.next()).await.is_none());
}

/// Streams once, then answers 500.
async fn then_500(req: HttpRequest) -> HttpResponse {
    if req.headers().contains_key("last-event-id") {
        return HttpResponse::InternalServerError().body("down");
    }
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .body("retry: 10\nid: 1\ndata: a\n\n")
}

// WIRE 32: another status or content type fails, and is never retried.
#[actix_web::test]
async fn another_status_or_content_type_fails_naming_it() {
    let (addr, _srv) = serve!(|| App::new()
        .route(
            "/500",
            web::get().to(|| async { HttpResponse::InternalServerError().body("boom") })
        )
        .route(
            "/html",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("text/html")
                    .body("<p>hi</p>")
            })
        )
        .route(
            "/params",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("Text/Event-Stream; charset=utf-8")
                    .body("data: ok\n\n")
            })
        )
        .route("/later", web::get().to(then_500)));

    let err = within(
        5,
        "500",
        EventSource::get(format!("http://{addr}/500")).connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.status(),
        Some(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert!(
        err.to_string().contains("500 Internal Server Error"),
        "{err}"
    );
    let Error::Status { body, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(&body[..], b"boom");

    let err = within(
        5,
        "html",
        EventSource::get(format!("http://{addr}/html")).connect(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ContentType { .. }), "{err:?}");
    assert!(err.to_string().contains("text/html"), "{err}");

    // The MIME type's essence counts, case-insensitively (parameters allowed).
    let mut ok = within(
        5,
        "params",
        EventSource::get(format!("http://{addr}/params"))
            .max_reconnects(0)
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(
        within(5, "event", ok.next()).await.unwrap().unwrap().data(),
        "ok"
    );
    assert!(within(5, "end", ok.next()).await.is_none());

    // On a reconnection: the error, then the end, no further attempt.
    let mut later = within(
        5,
        "later",
        EventSource::get(format!("http://{addr}/later")).connect(),
    )
    .await
    .unwrap();
    assert_eq!(
        within(5, "a", later.next()).await.unwrap().unwrap().data(),
        "a"
    );
    let err = within(5, "the 500", later.next())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert!(within(5, "end", later.next()).await.is_none());
}

/// First an hour's `retry` and id 1; then (resumed from 1) an empty `id:`; then `204`
/// if no `Last-Event-ID` came. Records the `Last-Event-ID` of each request.
async fn retry_then_reset(
    req: HttpRequest,
    seen: web::Data<Mutex<Vec<Option<String>>>>,
) -> HttpResponse {
    let last = req
        .headers()
        .get("last-event-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    seen.lock().unwrap().push(last.clone());
    let body = match last.as_deref() {
        None if seen.lock().unwrap().len() == 1 => "retry: 3600000\nid: 1\ndata: a\n\n",
        Some("1") => "id:\ndata: b\n\n",
        _ => return HttpResponse::NoContent().finish(),
    };
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .body(body)
}

// WIRE 24, 28, 34: the server's `retry` is the wait before reconnecting (an hour, on the
// paused clock: at once), with `Last-Event-ID`; after an empty `id:` none is sent.
#[actix_web::test]
async fn retry_and_an_empty_id_are_honoured_on_the_paused_clock() {
    tokio::time::pause();
    let wall = std::time::Instant::now();
    let seen = web::Data::new(Mutex::new(Vec::<Option<String>>::new()));
    let data = seen.clone();
    let (addr, _srv) = serve!(move || App::new()
        .app_data(data.clone())
        .route("/", web::get().to(retry_then_reset)));
    let mut events = EventSource::get(format!("http://{addr}/"))
        // No timer but the client's own waits: the paused clock jumps only to those.
        .head_timeout(None)
        .connect()
        .await
        .unwrap();
    let a = events.next().await.unwrap().unwrap();
    assert_eq!((a.data(), a.last_event_id()), ("a", "1"));
    assert_eq!(a.retry(), Some(Duration::from_secs(3600)));
    let ended = tokio::time::Instant::now();
    let b = events.next().await.unwrap().unwrap();
    let waited = ended.elapsed();
    // At least the hour; the paused clock may also have jumped to another timer of this
    // runtime (the test server's keep-alive) while a socket was waited on.
    assert!(
        waited >= Duration::from_secs(3600) && waited < Duration::from_secs(3660),
        "{waited:?}"
    );
    assert_eq!((b.data(), b.last_event_id(), b.id()), ("b", "", Some("")));
    assert!(events.next().await.is_none(), "204 after the reset");
    assert_eq!(events.status(), 204);
    assert_eq!(
        *seen.lock().unwrap(),
        [None, Some("1".to_owned()), None],
        "Last-Event-ID of each request"
    );
    assert!(wall.elapsed() < Duration::from_secs(10));
}

/// One event, then the server is gone for good.
#[actix_web::test]
async fn repeated_failures_back_off_with_jitter_up_to_the_attempts_allowed() {
    let (addr, srv) = serve!(|| App::new().route(
        "/",
        web::get().to(|| async {
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .body("id: 7\ndata: last\n\n")
        })
    ));
    let reconnects = Rc::new(RefCell::new(Vec::<Reconnect>::new()));
    let seen = reconnects.clone();
    let mut events = EventSource::get(format!("http://{addr}/"))
        .retry(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(100))
        .max_reconnects(5)
        .on_reconnect(move |r| seen.borrow_mut().push(r.clone()))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        within(5, "event", events.next())
            .await
            .unwrap()
            .unwrap()
            .data(),
        "last"
    );
    within(5, "stop", srv.stop(false)).await;
    let err = within(10, "the last error", events.next())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Send(_)), "{err:?}");
    assert!(within(5, "end", events.next()).await.is_none());
    let delays: Vec<u128> = reconnects
        .borrow()
        .iter()
        .map(|r| r.delay.as_millis())
        .collect();
    assert_eq!(delays.len(), 5, "{delays:?}");
    // 20 ms, then doubling from 40 up to 100, each a random part above half (and never
    // below the reconnection time).
    assert_eq!(delays[0], 20);
    for (delay, full) in delays[1..].iter().zip([40, 80, 100, 100]) {
        assert!(
            (full / 2..=full).contains(delay) && *delay >= 20,
            "{delays:?}"
        );
    }
    assert!(reconnects.borrow().iter().all(|r| r.last_event_id == "7"));
}

#[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
struct Echo {
    method: String,
    authorization: String,
    body: serde_json::Value,
}

async fn echo(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let echo = Echo {
        method: req.method().to_string(),
        authorization: req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        body: serde_json::from_slice(&body).unwrap(),
    };
    let line = serde_json::to_string(&echo).unwrap();
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .body(format!(
            ": hello\ndata: {line}\n\nretry: 5\n\ndata: {line}\n\n"
        ))
}

// A POST with a JSON body and `Authorization`, as LLM APIs take; read as JSON, with
// comments and `retry` blocks shown on request.
#[actix_web::test]
async fn any_method_with_a_body_and_headers_read_as_json() {
    let (addr, _srv) = serve!(|| App::new().route("/", web::post().to(echo)));
    let expected = Echo {
        method: "POST".into(),
        authorization: "Bearer sk-1".into(),
        body: serde_json::json!({"prompt": "hi"}),
    };
    let events = EventSource::post(format!("http://{addr}/"))
        .bearer_auth("sk-1")
        .json(&serde_json::json!({"prompt": "hi"}))
        .max_reconnects(0)
        .connect()
        .await
        .unwrap();
    let got: Vec<Echo> = within(5, "json", events.json::<Echo>().collect::<Vec<_>>())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|e| *e == expected), "{got:?}");

    let all = EventSource::post(format!("http://{addr}/"))
        .json(&serde_json::json!(null))
        .show_comments(true)
        .show_retry(true)
        .max_reconnects(0)
        .connect()
        .await
        .unwrap();
    let all: Vec<_> = within(5, "all", all.collect::<Vec<_>>()).await;
    let kinds: Vec<_> = all
        .iter()
        .map(|e| {
            let e = e.as_ref().unwrap();
            (e.comment().is_some(), e.is_event(), e.retry())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (true, false, None),
            (false, true, None),
            (false, false, Some(Duration::from_millis(5))),
            (false, true, None),
        ]
    );
}

// Back-pressure: while the consumer takes nothing, the server cannot send more than the
// sockets' buffers hold.
#[actix_web::test]
async fn a_consumer_that_takes_nothing_holds_the_server_back() {
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let (addr, _srv) = serve!(move || {
        let counter = counter.clone();
        App::new().route(
            "/big",
            web::get().to(move || {
                let counter = counter.clone();
                async move {
                    Sse::from_fn(move |tx| async move {
                        let big = "x".repeat(64 << 10);
                        for _ in 0..2000 {
                            tx.send(big.as_str()).await?;
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok::<_, SendError>(())
                    })
                }
            }),
        )
    });
    let mut events = EventSource::get(format!("http://{addr}/big"))
        .max_reconnects(0)
        .connect()
        .await
        .unwrap();
    within(5, "one event", events.next())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = sent.load(Ordering::SeqCst);
    // 2000 events of 64 KiB are 128 MiB; loopback socket buffers hold a few MiB.
    assert!(
        during < 300,
        "{during} events sent while the client read one"
    );
    for _ in 0..50 {
        within(5, "more", events.next()).await.unwrap().unwrap();
    }
    assert!(
        sent.load(Ordering::SeqCst) > during,
        "reading lets it go on"
    );
}

// The memory bound: a hostile server sends one endless line; the client fails once the
// event passes `max_event_size`, holding no more than that.
#[actix_web::test]
async fn an_endless_line_fails_at_the_event_size_limit() {
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let (addr, _srv) = serve!(move || {
        let counter = counter.clone();
        App::new().route(
            "/endless",
            web::get().to(move || {
                let counter = counter.clone();
                async move {
                    let chunks = futures_util::stream::iter(std::iter::once(
                        web::Bytes::from_static(b"data: "),
                    ))
                    .chain(futures_util::stream::repeat_with(move || {
                        counter.fetch_add(16 << 10, Ordering::SeqCst);
                        web::Bytes::from(vec![b'a'; 16 << 10])
                    }))
                    .map(Ok::<_, actix_web::Error>);
                    HttpResponse::Ok()
                        .content_type("text/event-stream")
                        .streaming(chunks)
                }
            }),
        )
    });
    let limit = 256 << 10;
    let mut events = EventSource::get(format!("http://{addr}/endless"))
        .max_event_size(limit)
        .connect()
        .await
        .unwrap();
    let err = within(10, "the error", events.next())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit: l } if l == limit),
        "{err:?}"
    );
    assert!(err.to_string().contains("262144 bytes"), "{err}");
    assert!(
        within(5, "end", events.next()).await.is_none(),
        "no reconnection"
    );
    let at_error = sent.load(Ordering::SeqCst);
    assert!(at_error < 64 << 20, "the server wrote {at_error} bytes");
}
