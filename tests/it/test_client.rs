//! `actix_sse::test`, the test client: its parser against an independent one
//! (`eventsource-stream`) on the same bytes, the WHATWG rules one by one, and the client on
//! handlers (statuses before streaming, `Last-Event-ID`, ends, paused time).

use std::{convert::Infallible, time::Duration};

use actix_sse::prelude::*;
use actix_sse::test::{self as sse_test, End, Message, Parser, ReceivedEvent};
use actix_web::{
    body::BodyStream,
    error::ErrorUnauthorized,
    test::{init_service, TestRequest},
    web, App, HttpRequest, HttpResponse,
};
use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::{FutureExt, StreamExt};
use proptest::prelude::*;

fn parse(chunks: &[&[u8]]) -> Vec<Message> {
    let mut parser = Parser::new();
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut out);
    }
    out
}

/// `elapsed` is `expected` on tokio's paused clock (whose timers round up to the next
/// millisecond).
#[track_caller]
fn assert_at(elapsed: Duration, expected: Duration) {
    assert!(
        elapsed >= expected && elapsed <= expected + Duration::from_millis(2),
        "at {elapsed:?}, expected {expected:?}"
    );
}

fn event(data: &str) -> Message {
    Message::Event(ReceivedEvent::data(data))
}

// --- The parser, rule by rule --------------------------------------------------------

#[test]
fn line_ends_cr_lf_and_crlf_also_across_chunks() {
    // WIRE 6, 7: CRLF is one line end, a lone CR is one.
    let expected = [event("a\nb"), event("c")];
    assert_eq!(parse(&[b"data: a\r\ndata: b\r\n\r\ndata: c\r\r"]), expected);
    assert_eq!(parse(&[b"data: a\rdata: b\n\ndata: c\n\n"]), expected);
    // A CR at the end of one chunk and an LF at the start of the next are one line end.
    assert_eq!(
        parse(&[
            b"data: a\r",
            b"\ndata: b\r",
            b"\n\r",
            b"\ndata: c\r\n",
            b"\r\n"
        ]),
        expected
    );
}

#[test]
fn data_lines_are_joined_and_empty_data_is_an_event() {
    // WIRE 4, 5, 9, 11.
    assert_eq!(
        parse(&[b"data: x\ndata:\ndata\ndata: \n\n"]),
        [event("x\n\n\n")]
    );
    assert_eq!(parse(&[b"data\n\n"]), [event("")]);
    // No data line: nothing is dispatched, and the type does not leak into the next event.
    assert_eq!(parse(&[b"event: lost\n\ndata: kept\n\n"]), [event("kept")]);
}

#[test]
fn one_space_is_removed_and_only_one() {
    // WIRE 2.
    assert_eq!(
        parse(&[b"data:  two\nevent:x\n\n"]),
        [Message::Event(ReceivedEvent::data(" two").event("x"))]
    );
}

#[test]
fn a_bom_is_skipped_at_the_start_only() {
    // WIRE 16.
    assert_eq!(parse(&[b"\xEF\xBB", b"\xBFdata: a\n\n"]), [event("a")]);
    // Later, `\u{FEFF}data` is an unknown field: the event is lost.
    assert_eq!(
        parse(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"]),
        [event("a")]
    );
    assert_eq!(
        parse(&[b"data: \xEF\xBB\xBFbom\n\n"]),
        [event("\u{FEFF}bom")]
    );
}

#[test]
fn comments_and_fields_without_colon() {
    // WIRE 29, 3.
    assert_eq!(
        parse(&[b":\n: keep-alive\n:x\ndata\n\n"]),
        [
            Message::Comment(String::new()),
            Message::Comment("keep-alive".into()),
            Message::Comment("x".into()),
            event(""),
        ]
    );
    // `data` in a value stays literal; an unknown field is ignored.
    assert_eq!(
        parse(&[b"data: event: nope\nfoo: bar\nData: no\n\n"]),
        [event("event: nope")]
    );
}

#[test]
fn ids_persist_and_nul_is_ignored() {
    // WIRE 22, 23, 24, 26, 27.
    let got = parse(&[b"id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\n\ndata: d\n\n"]);
    assert_eq!(
        got,
        [
            Message::Event(ReceivedEvent::data("a").id("1")),
            Message::Event(ReceivedEvent::data("b").id("1")),
            Message::Event(ReceivedEvent::data("c").id("1")),
            event("d"),
        ]
    );
    let mut parser = Parser::new();
    parser.feed(b"id: only-id\n", &mut Vec::new());
    assert_eq!(parser.last_event_id(), "", "not before the empty line");
    parser.feed(b"\n", &mut Vec::new());
    assert_eq!(parser.last_event_id(), "only-id");
}

#[test]
fn retry_is_digits_only() {
    // WIRE 28.
    let got = parse(&[b"retry: 2500\nretry: 0\nretry: 1.5\nretry: -1\nretry: +1\nretry:  1\nretry: 10s\nretry:\n\n"]);
    assert_eq!(
        got,
        [
            Message::Retry(Duration::from_millis(2500)),
            Message::Retry(Duration::ZERO)
        ]
    );
}

#[test]
fn invalid_utf8_reads_as_replacement_characters() {
    // WIRE 13: as a browser decodes it.
    assert_eq!(
        parse(&[b"data: a\xFFb\xE2\x82\n\n"]),
        [event("a\u{FFFD}b\u{FFFD}")]
    );
}

#[test]
fn an_unfinished_event_is_reported_at_the_end() {
    // WIRE 34.
    let mut parser = Parser::new();
    let mut out = Vec::new();
    parser.feed(b"data: a\n\n:\n", &mut out);
    assert_eq!(parser.finish(), None, "a comment needs no empty line");
    parser.feed(b"data: b\nda", &mut out);
    assert_eq!(parser.finish().as_deref(), Some("data: b\nda"));
    assert_eq!(out, [event("a"), Message::Comment(String::new())]);
}

// --- The parser against eventsource-stream, on the same bytes ------------------------

/// A value: no CR or LF (those end lines), rich in what matters.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| s.replace(['\r', '\n'], "")),
        proptest::collection::vec(
            prop_oneof![
                Just("\0"),
                Just(":"),
                Just(" "),
                Just("\u{FEFF}"),
                Just("é🎉"),
                Just("data"),
                Just("a"),
                Just("7"),
            ],
            0..6
        )
        .prop_map(|parts| parts.concat()),
    ]
}

/// A `retry` value: digits, or not quite (no `+`: `eventsource-stream` takes `+5` for 5,
/// a browser ignores it).
fn retry_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,3}",
        "[0-9]{21,25}",
        Just(" 5".to_owned()),
        Just("1.5".to_owned()),
        Just("-3".to_owned()),
        Just("10s".to_owned()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("data"),
        Just("data"),
        Just("event"),
        Just("id"),
        Just("Data"),
        Just("dat"),
        Just("\u{FEFF}data"),
        Just("x y"),
    ];
    let sep = prop_oneof![Just(": "), Just(":"), Just(":  "), Just("")];
    prop_oneof![
        3 => (name, sep, value()).prop_map(|(n, s, v)| {
            if s.is_empty() { n.to_owned() } else { format!("{n}{s}{v}") }
        }),
        1 => retry_value().prop_map(|v| format!("retry: {v}")),
        1 => value().prop_map(|v| format!(":{v}")),
        2 => Just(String::new()),
    ]
}

fn stream() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        any::<bool>(),
        proptest::collection::vec(
            (line(), prop_oneof![Just("\n"), Just("\r"), Just("\r\n")]),
            0..24,
        ),
        proptest::collection::vec(any::<usize>(), 0..6),
    )
        .prop_map(|(bom, lines, cuts)| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend_from_slice("\u{FEFF}".as_bytes());
            }
            for (line, end) in lines {
                bytes.extend_from_slice(line.as_bytes());
                bytes.extend_from_slice(end.as_bytes());
            }
            // `eventsource-stream` holds a final lone CR (waiting for a possible LF); a
            // client that reads the body's end dispatches it. End on LF.
            bytes.extend_from_slice(b"\n\n");
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % bytes.len()).collect();
            cuts.sort_unstable();
            (bytes, cuts)
        })
}

fn chunks_of(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain([bytes.len()].iter()) {
        out.push(Bytes::copy_from_slice(&bytes[at..cut]));
        at = cut;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn reads_what_eventsource_stream_reads((bytes, cuts) in stream()) {
        let chunks = chunks_of(&bytes, &cuts);
        // `eventsource-stream` 0.2.3 panics on a leading BOM (it slices one byte off a
        // three-byte character): it reads the bytes after it, ours the whole stream.
        let theirs_bytes = bytes.strip_prefix("\u{FEFF}".as_bytes()).unwrap_or(&bytes);
        prop_assume!(!theirs_bytes.starts_with("\u{FEFF}".as_bytes()));
        let theirs_cuts: Vec<usize> = cuts
            .iter()
            .map(|c| c.saturating_sub(bytes.len() - theirs_bytes.len()))
            .collect();
        let theirs: Vec<eventsource_stream::Event> =
            futures_util::stream::iter(
                chunks_of(theirs_bytes, &theirs_cuts).into_iter().map(Ok::<_, Infallible>),
            )
                .eventsource()
                .map(|r| r.expect("valid UTF-8"))
                .collect::<Vec<_>>()
                .now_or_never()
                .expect("all input is ready");
        let mut parser = Parser::new();
        let mut ours = Vec::new();
        for chunk in &chunks {
            parser.feed(chunk, &mut ours);
        }
        let events: Vec<(&str, &str, &str)> = ours
            .iter()
            .filter_map(|m| match m {
                Message::Event(e) => Some((e.event.as_str(), e.data.as_str(), e.id.as_str())),
                _ => None,
            })
            .collect();
        let expected: Vec<(&str, &str, &str)> = theirs
            .iter()
            .map(|e| (e.event.as_str(), e.data.as_str(), e.id.as_str()))
            .collect();
        prop_assert_eq!(events, expected);
        // `eventsource-stream` reports a `retry` with the event of its block: then ours
        // reported the same value last before that event.
        let mut last_retry = None;
        let mut theirs = theirs.iter();
        for m in &ours {
            match m {
                Message::Retry(r) => last_retry = Some(*r),
                Message::Event(_) => {
                    let their = theirs.next().expect("same number of events");
                    if let Some(r) = their.retry {
                        prop_assert_eq!(last_retry, Some(r));
                    }
                    last_retry = None;
                }
                Message::Comment(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        prop_assert_eq!(parser.finish(), None);
    }
}

// --- The client on handlers ----------------------------------------------------------

#[sse("/secret")]
async fn secret(req: HttpRequest) -> actix_web::Result<()> {
    // A check that takes a while (under HEAD_WAIT): the answer can still be a 401.
    tokio::time::sleep(Duration::from_millis(900)).await;
    if req.headers().get("authorization").is_none() {
        return Err(ErrorUnauthorized("no token"));
    }
    send!("welcome");
    Ok(())
}

#[sse("/done")]
async fn done(last: LastEventId<u64>) {
    if last.get() == Some(&3) {
        reject!(HttpResponse::NoContent());
    }
    let start = last.map_or(1, |n| n + 1);
    for n in start..=3 {
        send!(n.to_string(), id = n);
    }
}

#[sse("/slow", heartbeat = "off", retry = "2s")]
async fn slow() {
    // Longer than HEAD_WAIT: the 200 head goes out first, alone.
    tokio::time::sleep(Duration::from_secs(5)).await;
    send!("late", event = "tick");
}

#[sse("/panics")]
async fn panics() {
    send!("before");
    panic!("boom");
}

fn app() -> App<impl crate::common::AppFactory> {
    App::new()
        .service(secret)
        .service(done)
        .service(slow)
        .service(panics)
}

#[actix_web::test]
async fn statuses_before_streaming_and_their_bodies() {
    tokio::time::pause();
    let app = init_service(app()).await;

    let mut stream = sse_test::get(&app, "/secret").await;
    assert_eq!(stream.status(), 401);
    assert!(!stream.is_event_stream());
    assert_eq!(stream.text().await, "no token");

    let mut stream = sse_test::get(&app, "/secret")
        .header(("authorization", "Bearer x"))
        .await;
    assert!(stream.is_event_stream());
    assert_eq!(stream.headers().get("cache-control").unwrap(), "no-cache");
    stream.assert_event("welcome").await;
    stream.assert_end().await;

    // WIRE 36: the client that has everything is told to stop.
    let stream = sse_test::get(&app, "/done").last_event_id(3).await;
    assert_eq!(stream.status(), 204);
}

#[actix_web::test]
async fn last_event_id_resumes() {
    let app = init_service(app()).await;
    let mut stream = sse_test::get(&app, "/done").last_event_id(1).await;
    assert_eq!(
        stream.events().await,
        [
            ReceivedEvent::data("2").id("2"),
            ReceivedEvent::data("3").id("3")
        ]
    );
    assert_eq!(stream.last_event_id(), "3");
    assert_eq!(stream.end(), Some(&End::Clean));
}

#[actix_web::test]
async fn under_paused_time_the_head_waits_a_second_and_events_come_on_time() {
    tokio::time::pause();
    let wall = std::time::Instant::now();
    let app = init_service(app()).await;
    let start = tokio::time::Instant::now();
    let mut stream = sse_test::get(&app, "/slow").await;
    assert_at(start.elapsed(), actix_sse::HEAD_WAIT); // the head waited HEAD_WAIT
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.next().await,
        Some(Message::Retry(Duration::from_secs(2)))
    );
    assert_eq!(stream.retry(), Some(Duration::from_secs(2)));
    stream
        .assert_event(ReceivedEvent::data("late").event("tick"))
        .await;
    assert_at(start.elapsed(), Duration::from_secs(5));
    stream.assert_end().await;
    assert!(
        wall.elapsed() < Duration::from_secs(2),
        "{:?}",
        wall.elapsed()
    );
}

#[sse("/quiet", heartbeat = "15s")]
async fn quiet() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[tokio::test(start_paused = true)]
async fn heartbeats_every_15s_with_start_paused() {
    let wall = std::time::Instant::now();
    let app = init_service(App::new().service(quiet)).await;
    let mut last = tokio::time::Instant::now();
    let mut stream = sse_test::get(&app, "/quiet").await;
    for _ in 0..4 {
        assert_eq!(stream.next().await, Some(Message::Comment(String::new())));
        assert_at(last.elapsed(), Duration::from_secs(15));
        last = tokio::time::Instant::now();
    }
    assert!(
        wall.elapsed() < Duration::from_secs(2),
        "{:?}",
        wall.elapsed()
    );
}

#[sse("/steady", heartbeat = "15s")]
async fn steady() {
    // An event every 10 s for a minute, then silence.
    for i in 0..6 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        send!(format!("e{i}"));
    }
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

/// The heartbeat counts idle time: while events come more often than its period none is
/// sent, and the first one comes a whole period after the last event.
#[tokio::test(start_paused = true)]
async fn no_heartbeat_while_events_flow_then_one_a_period_after_the_last() {
    let app = init_service(App::new().service(steady)).await;
    let start = tokio::time::Instant::now();
    let mut stream = sse_test::get(&app, "/steady").await;
    for i in 0..6 {
        assert_eq!(stream.next().await, Some(event(&format!("e{i}"))));
        assert_at(start.elapsed(), Duration::from_secs(10 * (i + 1)));
    }
    let last = tokio::time::Instant::now();
    assert_eq!(stream.next().await, Some(Message::Comment(String::new())));
    assert_at(last.elapsed(), Duration::from_secs(15));
    assert_eq!(stream.next().await, Some(Message::Comment(String::new())));
    assert_at(last.elapsed(), Duration::from_secs(30));
}

#[actix_web::test]
async fn a_panic_ends_the_stream_with_an_error() {
    let app = init_service(app()).await;
    let mut stream = sse_test::get(&app, "/panics").await;
    stream.assert_event("before").await;
    assert_eq!(stream.next().await, None);
    assert!(
        matches!(stream.end(), Some(End::Error(e)) if e.contains("boom")),
        "{:?}",
        stream.end()
    );
}

#[actix_web::test]
#[should_panic(
    expected = "expected a clean end of the stream, got Some(Incomplete(\"data: b\\n\"))"
)]
async fn assert_end_refuses_an_unfinished_event() {
    let body = futures_util::stream::iter([
        Ok::<_, Infallible>(Bytes::from_static(b"data: a\n\n")),
        Ok(Bytes::from_static(b"data: b\n")),
    ]);
    let res = HttpResponse::Ok()
        .content_type("text/event-stream")
        .body(BodyStream::new(body));
    let mut stream = sse_test::EventStream::from_response(res);
    stream.assert_event("a").await;
    stream.assert_end().await;
}

#[actix_web::test]
#[should_panic(
    expected = "expected event ReceivedEvent { event: \"message\", data: \"1\", id: \"\" }, got ReceivedEvent { event: \"message\", data: \"1\", id: \"1\" }"
)]
async fn assert_event_compares_every_field() {
    let app = init_service(app()).await;
    let mut stream = sse_test::get(&app, "/done").await;
    stream.assert_event("1").await;
}

#[actix_web::test]
async fn respond_reads_any_responder_and_open_any_request() {
    let sse = actix_sse::Sse::from_fn(|tx| async move {
        tx.send(Event::data("by hand").id("a")).await?;
        tx.send(Event::comment("note")).await
    });
    let mut stream = sse_test::respond(sse, TestRequest::default());
    assert_eq!(
        stream.messages().await,
        [
            Message::Event(ReceivedEvent::data("by hand").id("a")),
            Message::Comment("note".into())
        ]
    );

    #[sse("/echo", method = "post")]
    async fn echo(body: web::Json<Vec<String>>) {
        for s in body.into_inner() {
            send!(s);
        }
    }
    let app = init_service(App::new().service(echo)).await;
    let req = TestRequest::post().uri("/echo").set_json(["x", "y"]);
    let mut stream = sse_test::open(&app, req).await;
    stream.assert_event("x").await;
    stream.assert_event("y").await;
    stream.assert_end().await;
    // A failing extractor keeps its own answer.
    let stream = sse_test::open(&app, TestRequest::post().uri("/echo")).await;
    assert_eq!(stream.status(), 400);
}
