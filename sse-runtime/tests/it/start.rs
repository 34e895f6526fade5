//! `Sse::start` under paused tokio time: when the response head goes out, and what the
//! response is (the stream, or the handler's answer).

use std::time::Duration;

use actix_web::{body::MessageBody, test::TestRequest, HttpResponse, Responder};
use sse_runtime::{Event, Sse};
use tokio::time::Instant;

async fn body_of<B: MessageBody>(res: HttpResponse<B>) -> String
where
    B::Error: std::fmt::Debug,
{
    let bytes = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_head_waits_for_the_first_event() {
    let t0 = Instant::now();
    let started = Sse::from_fn(|tx| async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let _ = tx.send(Event::data("a").id(1)).await;
        let _ = tx.send("b").await;
    })
    .retry(Duration::from_secs(1))
    .start()
    .await;
    assert_eq!(t0.elapsed(), Duration::from_millis(700));
    assert!(started.is_stream());
    let res = started.respond_to(&TestRequest::default().to_http_request());
    assert_eq!(res.status(), 200);
    assert_eq!(
        body_of(res).await,
        "retry: 1000\n\nid: 1\ndata: a\n\ndata: b\n\n"
    );
}

#[tokio::test(start_paused = true)]
async fn without_an_event_the_head_goes_out_after_head_wait_or_the_first_heartbeat() {
    let t0 = Instant::now();
    let started = Sse::from_fn(|tx| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let _ = tx.send("late").await;
    })
    .heartbeat(Duration::from_secs(5))
    .start()
    .await;
    assert_eq!(t0.elapsed(), sse_runtime::HEAD_WAIT);
    assert!(started.is_stream());

    // A heartbeat sooner than that: with the heartbeat.
    let t0 = Instant::now();
    let started = Sse::from_fn(|tx| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let _ = tx.send("late").await;
    })
    .heartbeat(Duration::from_millis(300))
    .start()
    .await;
    assert_eq!(t0.elapsed(), Duration::from_millis(300));
    assert!(started.is_stream());

    // Without a heartbeat: after HEAD_WAIT too.
    let t0 = Instant::now();
    let started = Sse::from_fn(|tx| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let _ = tx.send("late").await;
    })
    .no_heartbeat()
    .start()
    .await;
    assert_eq!(t0.elapsed(), sse_runtime::HEAD_WAIT);
    assert!(started.is_stream());
}

#[tokio::test(start_paused = true)]
async fn a_rejection_before_the_first_event_is_the_response() {
    let started = Sse::from_fn(|tx| async move {
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(!tx.is_started());
        tx.reject(HttpResponse::NoContent());
    })
    .retry(Duration::from_secs(1))
    .start()
    .await;
    assert!(!started.is_stream());
    let res = started.respond_to(&TestRequest::default().to_http_request());
    assert_eq!(res.status(), 204);

    let started = Sse::from_fn(|tx| async move {
        tx.reject_error(actix_web::error::ErrorForbidden("no"));
    })
    .start()
    .await;
    let res = started.respond_to(&TestRequest::default().to_http_request());
    assert_eq!(res.status(), 403);
    assert_eq!(body_of(res).await, "no");
}

#[tokio::test(start_paused = true)]
async fn after_the_first_event_a_rejection_only_ends_the_stream() {
    let started = Sse::from_fn(|tx| async move {
        let _ = tx.send("a").await;
        assert!(tx.is_started());
        tx.reject(HttpResponse::NoContent());
    })
    .start()
    .await;
    assert!(started.is_stream());
    let res = started.respond_to(&TestRequest::default().to_http_request());
    assert_eq!(res.status(), 200);
    assert_eq!(body_of(res).await, "data: a\n\n");
}

#[tokio::test(start_paused = true)]
async fn a_panic_before_the_first_event_is_a_500() {
    let started = Sse::from_fn(|_tx| async move {
        if std::hint::black_box(true) {
            panic!("boom");
        }
    })
    .start()
    .await;
    let res = started.respond_to(&TestRequest::default().to_http_request());
    assert_eq!(res.status(), 500);
}
