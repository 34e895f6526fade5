//! How long the response head waits for a first event (`head_wait`), and what happens to an
//! answer that comes after it: with `head_wait` long enough, a slow check still answers
//! `401`; without, the client gets `200` and an empty stream, and the late answer is
//! logged at `warn` with the route, the status it wanted and the fix. Never silently.

mod common;

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_sse::{
    prelude::*,
    test::{self as sse_test},
    ServerSetup,
};
use actix_web::{error::ErrorUnauthorized, test::init_service, App, HttpRequest, HttpResponse};
use common::within;

/// Every record logged at `warn` or above for target `actix_sse`, kept for the asserts.
struct Capture(Mutex<Vec<(log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.target() == "actix_sse" && meta.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut records = self.0.lock().unwrap();
            records.push((record.level(), record.args().to_string()));
        }
    }
    fn flush(&self) {}
}

static LOG: Capture = Capture(Mutex::new(Vec::new()));

/// Records from now on.
fn capture_log() {
    let _ = log::set_logger(&LOG);
    log::set_max_level(log::LevelFilter::Warn);
}

/// The records logged whose message contains `needle`.
fn logged(needle: &str) -> Vec<(log::Level, String)> {
    LOG.0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, m)| m.contains(needle))
        .cloned()
        .collect()
}

fn authorized(req: &HttpRequest) -> actix_web::Result<()> {
    match req.headers().get("authorization") {
        Some(_) => Ok(()),
        None => Err(ErrorUnauthorized("no token")),
    }
}

#[sse("/patient", head_wait = "5s")]
async fn patient(req: HttpRequest) -> actix_web::Result<()> {
    tokio::time::sleep(Duration::from_secs(3)).await; // a slow token lookup
    authorized(&req)?;
    send!("welcome")?;
    Ok(())
}

#[sse("/patient-with-heartbeat", heartbeat = "10ms", head_wait = "2s")]
async fn patient_with_heartbeat(req: HttpRequest) -> actix_web::Result<()> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    authorized(&req)?;
    send!("welcome")?;
    Ok(())
}

#[sse("/impatient")]
async fn impatient(req: HttpRequest) -> actix_web::Result<()> {
    tokio::time::sleep(Duration::from_millis(1500)).await; // longer than the default 1 s
    authorized(&req)?;
    send!("welcome")?;
    Ok(())
}

#[sse("/late-reject", method = "post", heartbeat = "off")]
async fn late_reject() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    reject!(HttpResponse::NotFound());
}

#[actix_web::test]
async fn a_check_within_head_wait_still_answers_401() {
    tokio::time::pause();
    let app = init_service(App::new().service(patient)).await;
    let start = tokio::time::Instant::now();
    let stream = sse_test::get(&app, "/patient").await;
    assert_eq!(stream.status(), 401);
    assert!(!stream.is_event_stream());
    assert_eq!(start.elapsed().as_secs(), 3);

    let mut stream = sse_test::get(&app, "/patient")
        .header(("authorization", "Bearer t"))
        .await;
    assert_eq!(stream.status(), 200);
    stream.assert_event("welcome").await;
    stream.assert_end().await;
}

#[actix_web::test]
async fn with_head_wait_heartbeats_wait_for_the_head() {
    tokio::time::pause();
    let app = init_service(App::new().service(patient_with_heartbeat)).await;
    // Without `head_wait` the first heartbeat (10 ms) would have sent the `200` head.
    let stream = sse_test::get(&app, "/patient-with-heartbeat").await;
    assert_eq!(stream.status(), 401);
}

#[actix_web::test]
async fn a_late_answer_is_a_200_and_a_warning_that_names_route_status_and_fix() {
    capture_log();
    tokio::time::pause();
    let app = init_service(App::new().service(impatient).service(late_reject)).await;
    let mut stream = sse_test::get(&app, "/impatient").await;
    assert_eq!(stream.status(), 200);
    assert!(stream.is_event_stream());
    assert_eq!(stream.events().await, []);
    let warned = logged("GET /impatient");
    assert_eq!(warned.len(), 1, "{warned:?}");
    let (level, message) = &warned[0];
    assert_eq!(*level, log::Level::Warn);
    for part in [
        "`401 Unauthorized` (no token)",
        "head_wait = \"5s\"",
        "ServerSetup::head_wait",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }

    // A `reject!` of a response whose status is known says it too.
    let req = actix_web::test::TestRequest::post().uri("/late-reject");
    let mut stream = sse_test::open(&app, req).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.events().await, []);
    let warned = logged("POST /late-reject");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].1.contains("`404 Not Found`"), "{}", warned[0].1);
}

#[actix_web::test]
async fn the_server_wide_head_wait_applies_to_every_handler() {
    let (addr, _srv) = serve!(
        || App::new().service(impatient),
        |s: actix_web::HttpServer<_, _, _, _>| s.sse_setup(
            ServerSetup::new()
                .head_wait(Duration::from_secs(3))
                .stop_signals(false)
        )
    );
    let start = Instant::now();
    let mut resp = within(
        10,
        "response",
        awc::Client::new()
            .get(format!("http://{addr}/impatient"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(within(5, "body", resp.body()).await.unwrap(), "no token");
    assert!(start.elapsed() >= Duration::from_millis(1500));
}
