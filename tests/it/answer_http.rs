//! Answering before streaming, on a real server: an `#[sse]` handler that rejects the
//! request (`reject!`, or an `Err` with a response) before its first event gets that
//! response instead of `200`; after its first event, the stream just ends. Failing
//! extractors keep their own error. The head waits for the first event, the handler's
//! return, or the first heartbeat when it comes before `HEAD_WAIT` (1 s).

use crate::common;

use std::{
    future::{ready, Ready},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use actix_sse::prelude::*;
use actix_web::{
    dev::Payload,
    error::{ErrorNotFound, ErrorUnauthorized},
    http::StatusCode,
    web, App, FromRequest, HttpRequest, HttpResponse, ResponseError,
};
use common::{events, raw_request, read_chunked_to_end, within, Parsed};
use futures_util::{Stream, StreamExt};

async fn all(stream: impl Stream<Item = Parsed> + Unpin) -> Vec<String> {
    within(5, "the stream to end", stream.collect::<Vec<_>>())
        .await
        .into_iter()
        .map(|e| e.data)
        .collect()
}

async fn status_and_body(url: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = awc::Client::new().get(url);
    for h in headers {
        req = req.insert_header(*h);
    }
    let mut resp = within(5, "response", req.send()).await.unwrap();
    let body = within(5, "body", resp.body()).await.unwrap();
    (resp.status(), String::from_utf8_lossy(&body).into_owned())
}

// --- handlers -----------------------------------------------------------------------------

/// The demo's rule: ids 0..=9, then the job is done; a client that has id 9 is told to stop.
#[sse("/counter")]
async fn counter(last: LastEventId) {
    if last.as_deref() == Some("9") {
        reject!(HttpResponse::NoContent());
    }
    let start = last
        .as_deref()
        .and_then(|id| id.parse::<u64>().ok())
        .map_or(0, |n| n + 1);
    for n in start..10 {
        send!(n.to_string(), id = n);
    }
}

/// A check inside the handler, answered with actix-web's error.
#[sse("/secret")]
async fn secret(req: HttpRequest) -> actix_web::Result<()> {
    let authorized = req.headers().get("x-token").is_some_and(|t| t == "letmein");
    if !authorized {
        return Err(ErrorUnauthorized("bad token"));
    }
    send!("the secret")?;
    Ok(())
}

/// `reject!` with an error, from a handler returning `()`.
#[sse("/topics/{topic}", retry = "1s")]
async fn topic(topic: web::Path<String>) {
    if topic.as_str() != "news" {
        reject!(ErrorNotFound("no such topic"));
    }
    send!("headline");
}

#[derive(Debug)]
struct Gone;

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("that job is gone")
    }
}

impl ResponseError for Gone {
    fn status_code(&self) -> StatusCode {
        StatusCode::GONE
    }
}

/// The user's own `ResponseError`, through `?`.
#[sse("/job")]
async fn job() -> Result<(), Gone> {
    Err(Gone)?;
    Ok(())
}

/// An error without a response: logged, and the stream ends (`200`, empty).
#[sse("/display")]
async fn display() -> Result<(), String> {
    Err("only logged".to_owned())
}

/// Too late: the first event went out, so the rejection ends the stream.
#[sse("/late")]
async fn late() {
    send!("first");
    tokio::task::yield_now().await;
    reject!(HttpResponse::NoContent());
}

/// An error after the first event: logged, the stream ends cleanly.
#[sse("/late-error")]
async fn late_error() -> actix_web::Result<()> {
    send!("first")?;
    Err(ErrorUnauthorized("too late"))
}

/// No event for a long time: the head goes out with the first heartbeat.
#[sse("/quiet", heartbeat = "200ms")]
async fn quiet() {
    tokio::time::sleep(Duration::from_secs(30)).await;
    send!("late");
}

/// No event before the first heartbeat, then a rejection: too late, the stream ends.
#[sse("/after-heartbeat", heartbeat = "50ms")]
async fn after_heartbeat() {
    tokio::time::sleep(Duration::from_millis(300)).await;
    reject!(HttpResponse::NoContent());
}

#[sse("/panics")]
async fn panics() {
    if std::hint::black_box(true) {
        panic!("before any event");
    }
    send!("never");
}

// A failing extractor: the handler never runs.
static PRIVATE_RUNS: AtomicUsize = AtomicUsize::new(0);

struct Token(String);

impl FromRequest for Token {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.headers().get("authorization") {
            Some(v) => Ok(Token(v.to_str().unwrap_or("").to_owned())),
            None => Err(ErrorUnauthorized("missing token")),
        })
    }
}

#[sse("/private")]
async fn private(token: Token) {
    PRIVATE_RUNS.fetch_add(1, Ordering::SeqCst);
    send!(token.0);
}

#[sse("/numbers/{n}")]
async fn numbers(n: web::Path<u32>) {
    send!(n.to_string());
}

fn app() -> App<impl common::AppFactory> {
    App::new()
        .service(counter)
        .service(secret)
        .service(topic)
        .service(job)
        .service(display)
        .service(late)
        .service(late_error)
        .service(quiet)
        .service(after_heartbeat)
        .service(panics)
        .service(private)
        .service(numbers)
}

// --- tests --------------------------------------------------------------------------------

#[actix_web::test]
async fn a_reconnect_that_has_everything_gets_204() {
    let (addr, _srv) = serve!(app);
    let url = format!("http://{addr}/counter");
    let (status, _, stream) = events(&url, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        all(stream).await,
        (0..10).map(|n| n.to_string()).collect::<Vec<_>>()
    );

    let (status, _, stream) = events(&url, &[("last-event-id", b"6")]).await;
    assert_eq!(status, 200);
    assert_eq!(all(stream).await, ["7", "8", "9"]);

    // WIRE 36: 204 stops the EventSource.
    let (status, body) = status_and_body(&url, &[("last-event-id", "9")]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, "");
}

#[actix_web::test]
async fn an_error_before_the_first_event_is_the_response() {
    let (addr, _srv) = serve!(app);
    let (status, body) = status_and_body(&format!("http://{addr}/secret"), &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "bad token")
    );

    let (status, _, stream) =
        events(&format!("http://{addr}/secret"), &[("x-token", b"letmein")]).await;
    assert_eq!(status, 200);
    assert_eq!(all(stream).await, ["the secret"]);

    // `reject!` with an error, from a handler returning `()`; the `retry` line is not an
    // event.
    let (status, body) = status_and_body(&format!("http://{addr}/topics/sports"), &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "no such topic")
    );
    let (status, _, stream) = events(&format!("http://{addr}/topics/news"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(all(stream).await, ["headline"]);

    // The user's own `ResponseError`.
    let (status, body) = status_and_body(&format!("http://{addr}/job"), &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::GONE, "that job is gone")
    );

    // An error without a response is only logged: `200` and an empty stream, as before.
    let (status, _, stream) = events(&format!("http://{addr}/display"), &[]).await;
    assert_eq!(status, 200);
    assert!(all(stream).await.is_empty());

    // A panic before any event: `500`.
    let (status, _) = status_and_body(&format!("http://{addr}/panics"), &[]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn after_the_first_event_a_rejection_ends_the_stream_cleanly() {
    let (addr, _srv) = serve!(app);
    for path in ["/late", "/late-error"] {
        let (mut conn, head, body) = raw_request(addr, "GET", path, "", "").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        let (body, clean) = read_chunked_to_end(&mut conn, body, 5).await;
        assert!(clean, "{path}: no final chunk");
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("data: first\n\n"), "{path}: {body:?}");
    }
}

#[actix_web::test]
async fn failing_extractors_keep_their_own_error() {
    let (addr, _srv) = serve!(app);
    let (status, body) = status_and_body(&format!("http://{addr}/private"), &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "missing token")
    );
    assert_eq!(PRIVATE_RUNS.load(Ordering::SeqCst), 0);
    // actix-web's own extractor errors, too: a path segment that is not a number is 404.
    let (status, _) = status_and_body(&format!("http://{addr}/numbers/x"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, stream) = events(
        &format!("http://{addr}/private"),
        &[("authorization", b"t0k3n")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(all(stream).await, ["t0k3n"]);
    assert_eq!(PRIVATE_RUNS.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn without_events_the_head_goes_out_with_the_first_heartbeat() {
    let (addr, _srv) = serve!(app);
    let start = Instant::now();
    let (_conn, head, body) = raw_request(addr, "GET", "/quiet", "", "").await;
    let took = start.elapsed();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(3),
        "head after {took:?}, heartbeat 200ms"
    );
    // The heartbeat is the first chunk (`2\r\n:\n\r\n`), unless it is still on its way.
    if !body.is_empty() {
        assert_eq!(body, b"2\r\n:\n\r\n");
    }

    // A rejection after the head went out (with the heartbeat) only ends the stream.
    let (mut conn, head, body) = raw_request(addr, "GET", "/after-heartbeat", "", "").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (_, clean) = read_chunked_to_end(&mut conn, body, 5).await;
    assert!(clean);
}

// The session a handler holds is attached before the head: when the client leaves while the
// handler has sent nothing yet, the handler is dropped and the session reads as closed.
struct Held(Arc<Mutex<Vec<SseSession>>>, Arc<AtomicUsize>);

#[sse("/waiting", heartbeat = "1h")]
async fn waiting(held: web::Data<Held>, session: SseSession) {
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let _guard = OnDrop(held.1.clone());
    held.0.lock().unwrap().push(session);
    std::future::pending::<()>().await;
    send!("never");
}

#[actix_web::test]
async fn a_client_leaving_before_the_first_event_closes_the_session() {
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(AtomicUsize::new(0));
    let held = web::Data::new(Held(sessions.clone(), dropped.clone()));
    let (addr, _srv) = serve!(
        move || App::new().app_data(held.clone()).service(waiting),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_defaults()
    );
    let mut conn = within(5, "connect", tokio::net::TcpStream::connect(addr))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut conn,
        b"GET /waiting HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await
    .unwrap();
    within(5, "the handler to run", async {
        while sessions.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let session = sessions.lock().unwrap()[0].clone();
    assert!(!session.is_closed());
    drop(conn);
    within(5, "the session to close", async {
        while !session.is_closed() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}
