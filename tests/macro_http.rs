//! `#[sse]` handlers served by a real actix-web server on 127.0.0.1, read with a real client
//! (`awc`) and an independent SSE parser (`eventsource-stream`), or, where only what the
//! handler sends matters, through `actix_web::test` with the test client (`actix_sse::test`,
//! on the paused clock for timings). Every wait is bounded.

mod common;

use std::{
    fmt,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use actix_sse::{
    prelude::*,
    test::{self as sse_test, ReceivedEvent},
    SendError, Stream,
};
use actix_web::{guard::GuardContext, test::init_service, web, App, HttpRequest};
use common::{events, within, Parsed};
use futures_util::StreamExt;

fn ev(event: &str, data: &str, id: &str) -> Parsed {
    Parsed {
        event: event.into(),
        data: data.into(),
        id: id.into(),
    }
}

/// Every event until the stream ends, within `secs`.
async fn all(stream: impl Stream<Item = Parsed> + Unpin, secs: u64) -> Vec<Parsed> {
    within(secs, "the stream to end", stream.collect::<Vec<_>>()).await
}

// --- push style, both route shapes ------------------------------------------------------

#[sse("/count")]
async fn count() {
    for i in 0..3 {
        send!(format!("n{i}"), id = i);
    }
    send!(Event::data("last").event("done"));
}

#[sse(heartbeat = "1s")]
async fn feed(
    name: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
    state: web::Data<String>,
    req: HttpRequest,
) {
    send!(name.into_inner(), event = "path");
    send!(query.get("q").cloned().unwrap_or_default(), event = "query");
    send!(state.get_ref().clone(), event = "data");
    send!(req.path().to_owned(), event = "request");
}

#[actix_web::test]
async fn push_handlers_with_and_without_a_path() {
    let (addr, _srv) = serve!(|| App::new()
        .app_data(web::Data::new(String::from("shared")))
        .service(count)
        .route("/feed/{name}", web::get().to(feed)));

    let (status, headers, stream) = events(&format!("http://{addr}/count"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "text/event-stream");
    assert_eq!(
        all(stream, 5).await,
        vec![
            ev("message", "n0", "0"),
            ev("message", "n1", "1"),
            ev("message", "n2", "2"),
            ev("done", "last", "2"),
        ]
    );

    let (status, _, stream) = events(&format!("http://{addr}/feed/ada?q=hello"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        all(stream, 5).await,
        vec![
            ev("path", "ada", ""),
            ev("query", "hello", ""),
            ev("data", "shared", ""),
            ev("request", "/feed/ada", ""),
        ]
    );

    // GET only: the attribute sets the method guard.
    let resp = within(
        5,
        "POST",
        awc::Client::new()
            .post(format!("http://{addr}/count"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 404);
}

// --- stream style ----------------------------------------------------------------------------

#[sse("/stream/{n}")]
async fn counted(n: web::Path<u32>) -> impl Stream<Item = Event> {
    let n = n.into_inner();
    async_stream::stream! {
        for i in 0..n {
            yield Event::data(format!("s{i}"));
        }
    }
}

#[sse("/results")]
async fn results() -> impl Stream<Item = Result<String, std::io::Error>> {
    futures_util::stream::iter(vec![
        Ok("ok".to_owned()),
        Err(std::io::Error::other("boom")),
        Ok("never".to_owned()),
    ])
}

#[actix_web::test]
async fn stream_handlers() {
    let app = init_service(App::new().service(counted).service(results)).await;
    let mut stream = sse_test::get(&app, "/stream/3").await;
    for data in ["s0", "s1", "s2"] {
        stream.assert_event(data).await;
    }
    stream.assert_end().await;

    // An `Err` item ends the stream cleanly.
    let mut stream = sse_test::get(&app, "/results").await;
    stream.assert_event("ok").await;
    stream.assert_end().await;
}

// --- heartbeat ---------------------------------------------------------------------------

#[sse("/hb", heartbeat = "10ms", heartbeat_event = Event::data("heartbeat").event("hb"))]
async fn heartbeat() {
    send!("start");
    tokio::time::sleep(Duration::from_millis(200)).await;
    send!("end");
}

#[actix_web::test]
async fn heartbeat_event_is_sent_while_idle() {
    tokio::time::pause();
    let app = init_service(App::new().service(heartbeat)).await;
    let mut stream = sse_test::get(&app, "/hb").await;
    stream.assert_event("start").await;
    // 200 ms idle, a heartbeat every 10 ms (the paused clock's timers round up to the
    // next millisecond: one may be lost to that).
    let beat = ReceivedEvent::data("heartbeat").event("hb");
    let mut beats = 0;
    let end = loop {
        let got = stream.next_event().await.expect("the end event");
        if got != beat {
            break got;
        }
        beats += 1;
    };
    assert_eq!(end, ReceivedEvent::data("end"));
    assert!((18..=19).contains(&beats), "{beats} heartbeats in 200 ms");
    stream.assert_end().await;
}

// --- serializers --------------------------------------------------------------------------

#[derive(serde::Serialize)]
struct Customer {
    id: u32,
    first_name: String,
}

#[sse("/json", serialize = json)]
async fn json() {
    send!(Customer {
        id: 0,
        first_name: "Jet".into()
    });
    send!(vec![100, 200], event = "prices", id = "p1");
}

fn shout(c: &Customer) -> String {
    format!("{}:{}", c.id, c.first_name.to_uppercase())
}

#[sse("/custom", serialize = shout)]
async fn custom() {
    send!(Customer {
        id: 7,
        first_name: "ada".into()
    });
}

#[sse("/json-stream", serialize = json)]
async fn json_stream() -> impl Stream<Item = Customer> {
    futures_util::stream::iter((1..=2).map(|id| Customer {
        id,
        first_name: "x".into(),
    }))
}

#[actix_web::test]
async fn serialize_json_and_custom_fn() {
    let app = init_service(
        App::new()
            .service(json)
            .service(custom)
            .service(json_stream),
    )
    .await;
    let mut stream = sse_test::get(&app, "/json").await;
    stream.assert_event(r#"{"id":0,"first_name":"Jet"}"#).await;
    stream
        .assert_event(ReceivedEvent::data("[100,200]").event("prices").id("p1"))
        .await;
    stream.assert_end().await;
    let mut stream = sse_test::get(&app, "/custom").await;
    stream.assert_event("7:ADA").await;
    stream.assert_end().await;
    let mut stream = sse_test::get(&app, "/json-stream").await;
    stream.assert_event(r#"{"id":1,"first_name":"x"}"#).await;
    stream.assert_event(r#"{"id":2,"first_name":"x"}"#).await;
    stream.assert_end().await;
}

#[sse("/raw-under-json", serialize = json)]
async fn raw_under_json(hub: web::Data<Channels>) {
    send!("text"); // a string is a value like any other: JSON
    send!(Event::data("[DONE]")); // an event goes out as it is
    let ev = Event::data("two\nlines").event("e").id("x");
    send!(&ev, id = 5); // by reference, with fields replacing its own
    send!(ev, comment = "c");
    send!(Event::data("never").id("bad\nid")); // refused, as without a serializer
    let mut sub = hub.subscribe("t", None).await;
    hub.publish("t", Event::data("published").event("p"))
        .await
        .unwrap();
    let published = sub.next().await.unwrap();
    send!(&published); // as it was published, id included
    send!(published, event = "renamed");
}

#[actix_web::test]
async fn under_a_serializer_events_go_out_as_they_are() {
    let hub = Channels::new();
    let app = init_service(
        App::new()
            .app_data(web::Data::new(hub.clone()))
            .service(raw_under_json),
    )
    .await;
    let req = actix_web::test::TestRequest::get()
        .uri("/raw-under-json")
        .to_request();
    let body = actix_web::test::call_and_read_body(&app, req).await;
    let body = String::from_utf8(body.to_vec()).unwrap();
    let id = body.split("event: p\nid: ").nth(1).unwrap();
    let id = &id[..id.find('\n').unwrap()];
    assert!(!id.is_empty());
    assert_eq!(
        body,
        format!(
            "data: \"text\"\n\n\
             data: [DONE]\n\n\
             event: e\nid: 5\ndata: two\ndata: lines\n\n\
             : c\nevent: e\nid: x\ndata: two\ndata: lines\n\n\
             event: p\nid: {id}\ndata: published\n\n\
             event: renamed\nid: {id}\ndata: published\n\n"
        )
    );
}

#[sse("/fallible/{room}")]
async fn fallible(room: web::Path<String>) -> actix_web::Result<impl Stream<Item = Event>> {
    if room.as_str() == "secret" {
        return Err(actix_web::error::ErrorUnauthorized("members only"));
    }
    let room = room.into_inner();
    Ok(futures_util::stream::iter([Event::data(room).id("1")]))
}

#[sse("/fallible-json/{n}", serialize = json)]
async fn fallible_json(
    n: web::Path<u32>,
) -> Result<impl Stream<Item = Customer>, actix_web::HttpResponse> {
    let n = n.into_inner();
    if n == 0 {
        // Any `Responder`: here the way to tell an `EventSource` to stop.
        return Err(actix_web::HttpResponse::NoContent().finish());
    }
    Ok(futures_util::stream::iter((1..=n).map(|id| Customer {
        id,
        first_name: "x".into(),
    })))
}

#[actix_web::test]
async fn stream_style_handlers_may_answer_before_streaming() {
    let app = init_service(App::new().service(fallible).service(fallible_json)).await;
    let mut stream = sse_test::get(&app, "/fallible/lobby").await;
    assert_eq!(stream.status(), 200);
    stream
        .assert_event(ReceivedEvent::data("lobby").id("1"))
        .await;
    stream.assert_end().await;

    let mut stream = sse_test::get(&app, "/fallible/secret").await;
    assert_eq!(stream.status(), 401);
    assert!(!stream.is_event_stream());
    assert_eq!(stream.text().await, "members only");

    let mut stream = sse_test::get(&app, "/fallible-json/2").await;
    stream.assert_event(r#"{"id":1,"first_name":"x"}"#).await;
    stream.assert_event(r#"{"id":2,"first_name":"x"}"#).await;
    stream.assert_end().await;
    let stream = sse_test::get(&app, "/fallible-json/0").await;
    assert_eq!(stream.status(), 204);
}

#[actix_web::test]
async fn a_service_can_also_be_routed_by_hand() {
    // `#[sse("/fallible/{room}")]` makes a service; `.route(..)` takes it as a handler too,
    // on a path and method of the app's choosing (the attribute's own are not used).
    let app = init_service(
        App::new()
            .route("/elsewhere/{room}", web::post().to(fallible))
            .service(web::resource("/also/{room}").to(fallible)),
    )
    .await;
    let req = actix_web::test::TestRequest::post().uri("/elsewhere/lobby");
    let mut stream = sse_test::open(&app, req).await;
    assert_eq!(stream.status(), 200);
    stream
        .assert_event(ReceivedEvent::data("lobby").id("1"))
        .await;
    stream.assert_end().await;
    let stream = sse_test::get(&app, "/also/secret").await;
    assert_eq!(stream.status(), 401);
    let stream = sse_test::get(&app, "/elsewhere/lobby").await;
    assert_eq!(stream.status(), 404);
}

// --- close, session, errors ------------------------------------------------------------

#[sse("/close")]
#[allow(unreachable_code)]
async fn closing() {
    send!("a");
    close!();
    // Never runs: `close!()` returns from the handler. (Were it only to close the sender,
    // every `send!` here would be refused at once and this loop would spin forever.)
    loop {
        send!("b");
    }
}

#[sse("/session")]
async fn session_close(session: SseSession) {
    send!("a");
    session.close();
    tokio::time::sleep(Duration::from_secs(30)).await;
    send!("never");
}

#[derive(Debug)]
struct AppError(String);

impl From<SendError> for AppError {
    fn from(e: SendError) -> Self {
        AppError(e.to_string())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[sse("/fails")]
async fn fails() -> Result<(), AppError> {
    send!("a")?;
    if send!("b").is_ok() {
        return Err(AppError("stop".into()));
    }
    send!("never")?;
    Ok(())
}

#[actix_web::test]
async fn close_session_and_error_end_the_stream() {
    let (addr, _srv) = serve!(|| App::new()
        .service(closing)
        .service(session_close)
        .service(fails));
    let (_, _, stream) = events(&format!("http://{addr}/close"), &[]).await;
    assert_eq!(all(stream, 5).await, vec![ev("message", "a", "")]);

    let (_, _, stream) = events(&format!("http://{addr}/session"), &[]).await;
    assert_eq!(all(stream, 5).await, vec![ev("message", "a", "")]);

    let (_, _, stream) = events(&format!("http://{addr}/fails"), &[]).await;
    let data: Vec<_> = all(stream, 5).await.into_iter().map(|e| e.data).collect();
    assert_eq!(data, ["a", "b"]);
}

// --- retry, resume ------------------------------------------------------------------------

#[sse("/retry", retry = "3s")]
async fn retry() {
    send!("x", retry = "1500ms");
}

#[sse("/resume")]
async fn resume(last: LastEventId) {
    let start = last
        .as_deref()
        .and_then(|id| id.parse::<u32>().ok())
        .map_or(0, |id| id + 1);
    for i in start..5 {
        send!(format!("m{i}"), id = i);
    }
}

#[actix_web::test]
async fn retry_and_last_event_id() {
    let (addr, _srv) = serve!(|| App::new().service(retry).service(resume));

    let mut resp = within(
        5,
        "GET /retry",
        awc::Client::new()
            .get(format!("http://{addr}/retry"))
            .send(),
    )
    .await
    .unwrap();
    let body = within(5, "body", resp.body()).await.unwrap();
    assert_eq!(&body[..], b"retry: 3000\n\nretry: 1500\ndata: x\n\n");

    let (_, _, stream) = events(&format!("http://{addr}/resume"), &[("Last-Event-ID", b"2")]).await;
    assert_eq!(
        all(stream, 5).await,
        vec![ev("message", "m3", "3"), ev("message", "m4", "4")]
    );
    let (_, _, stream) = events(&format!("http://{addr}/resume"), &[]).await;
    assert_eq!(all(stream, 5).await.len(), 5);
}

// --- route options -------------------------------------------------------------------------

fn has_key(ctx: &GuardContext<'_>) -> bool {
    ctx.head().headers().contains_key("x-key")
}

#[sse(
    "/guarded",
    name = "guarded_events",
    guard = "has_key",
    wrap = "actix_web::middleware::DefaultHeaders::new().add((\"x-wrapped\", \"yes\"))"
)]
async fn guarded(req: HttpRequest) {
    let url = req
        .url_for_static("guarded_events")
        .map(|u| u.path().to_owned());
    send!(url.unwrap_or_else(|e| e.to_string()));
}

#[actix_web::test]
async fn name_guard_and_wrap() {
    let (addr, _srv) = serve!(|| App::new().service(guarded));
    let resp = within(
        5,
        "GET unguarded",
        awc::Client::new()
            .get(format!("http://{addr}/guarded"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 404);

    let (status, headers, stream) =
        events(&format!("http://{addr}/guarded"), &[("x-key", b"1")]).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("x-wrapped").unwrap(), "yes");
    assert_eq!(all(stream, 5).await, vec![ev("message", "/guarded", "")]);
}

// --- spans ----------------------------------------------------------------------------------

#[sse("/line")]
async fn line() {
    send!(line!().to_string()); // LINE-MARKER
}

#[actix_web::test]
async fn line_macro_sees_the_users_line() {
    let expected = include_str!("macro_http.rs")
        .lines()
        .position(|l| l.contains("send!(line!().to_string()); // LINE-MARKER"))
        .unwrap()
        + 1;
    let (addr, _srv) = serve!(|| App::new().service(line));
    let (_, _, stream) = events(&format!("http://{addr}/line"), &[]).await;
    let got = all(stream, 5).await;
    assert_eq!(got, vec![ev("message", &expected.to_string(), "")]);
}

// --- the handler future is dropped with the connection ----------------------------------

struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[sse("/forever", heartbeat = "10ms")]
async fn forever(drops: web::Data<Arc<AtomicUsize>>) {
    let _guard = Guard(drops.get_ref().clone());
    send!("hello");
    std::future::pending::<()>().await;
}

#[actix_web::test]
async fn disconnect_drops_the_handler() {
    let drops = Arc::new(AtomicUsize::new(0));
    let data = web::Data::new(drops.clone());
    let (addr, _srv) = serve!(move || App::new().app_data(data.clone()).service(forever));
    let (_, _, mut stream) = events(&format!("http://{addr}/forever"), &[]).await;
    assert_eq!(
        within(5, "first event", stream.next()).await,
        Some(ev("message", "hello", ""))
    );
    drop(stream);
    within(5, "the handler to be dropped", async {
        while drops.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

// --- attributes on the handler see the user's function ----------------------------------

/// A span's name and field names.
type SpanShape = (String, Vec<String>);

/// Records the name and field names of every span created.
struct SpanNames(Arc<std::sync::Mutex<Vec<SpanShape>>>);

impl tracing::Subscriber for SpanNames {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let meta = span.metadata();
        let fields = meta.fields().iter().map(|f| f.name().to_owned()).collect();
        let mut spans = self.0.lock().unwrap();
        spans.push((meta.name().to_owned(), fields));
        tracing::span::Id::from_u64(spans.len() as u64)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[sse("/instrumented/{room}")]
#[tracing::instrument(skip(state))]
async fn instrumented(room: web::Path<String>, state: web::Data<String>) {
    send!(format!("{room} {}", state.get_ref()));
}

#[actix_web::test]
async fn instrument_sees_the_users_name_and_parameters() {
    let spans = Arc::new(std::sync::Mutex::new(Vec::new()));
    tracing::subscriber::set_global_default(SpanNames(spans.clone())).unwrap();
    let (addr, _srv) = serve!(|| App::new()
        .app_data(web::Data::new(String::from("state")))
        .service(instrumented));
    let (_, _, stream) = events(&format!("http://{addr}/instrumented/lobby"), &[]).await;
    assert_eq!(all(stream, 5).await, vec![ev("message", "lobby state", "")]);
    // The span is the user's function's: its name, its parameters (`state` skipped), and
    // no sender. (The stream's own span, of the `tracing` feature, is tested in
    // `tracing_spans.rs`.)
    let mut spans = spans.lock().unwrap().clone();
    spans.retain(|(name, _)| name != "sse_stream");
    assert_eq!(
        spans,
        vec![("instrumented".to_owned(), vec!["room".to_owned()])]
    );
}
