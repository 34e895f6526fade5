//! The runtime over real HTTP: a real actix-web server on 127.0.0.1, a real client, and an
//! independent SSE parser. Every wait is bounded.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use actix_sse::{Event, LastEventId, SendError, Sse, SseSession};
use actix_web::{middleware::Compress, web, App, HttpResponse, Responder};
use common::{events, within, Parsed};
use futures_util::StreamExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Notify,
};

fn msg(data: &str) -> Parsed {
    Parsed {
        event: "message".into(),
        data: data.into(),
        id: String::new(),
    }
}

/// A handler that sends `first`, waits for the test's go-ahead, then sends `second`.
async fn gated(gate: web::Data<Notify>) -> impl Responder {
    Sse::from_fn(move |tx| async move {
        tx.send("first").await?;
        gate.notified().await;
        tx.send("second").await
    })
}

/// Against `gated`: "first" arrives while the handler is parked on the gate (so it was not
/// buffered), then "second" once the gate opens.
async fn assert_delivered_one_by_one(
    evs: &mut (impl futures_util::Stream<Item = Parsed> + Unpin),
    gate: &Notify,
) {
    assert_eq!(
        within(5, "first event", evs.next()).await,
        Some(msg("first"))
    );
    gate.notify_one();
    assert_eq!(
        within(5, "second event", evs.next()).await,
        Some(msg("second"))
    );
}

/// A raw `GET` (see `common::raw_request`).
async fn raw_get(
    addr: std::net::SocketAddr,
    path: &str,
    extra: &str,
) -> (TcpStream, String, Vec<u8>) {
    common::raw_request(addr, "GET", path, extra, "").await
}

/// Reads the rest of a chunked body until its final chunk (`true`) or until the server
/// closes the connection without one (`false`).
async fn read_to_end(stream: &mut TcpStream, mut body: Vec<u8>) -> (Vec<u8>, bool) {
    let mut buf = [0u8; 4096];
    loop {
        if body.ends_with(b"0\r\n\r\n") {
            return (body, true);
        }
        let n = within(5, "end of body", stream.read(&mut buf))
            .await
            .unwrap_or(0);
        if n == 0 {
            return (body, false);
        }
        body.extend_from_slice(&buf[..n]);
    }
}

#[actix_web::test]
async fn headers_are_exact_and_there_is_no_length() {
    let gate = web::Data::new(Notify::new());
    let g = gate.clone();
    let (addr, _srv) = serve!(move || App::new()
        .app_data(g.clone())
        .route("/", web::get().to(gated)));
    let (_stream, head, _) = raw_get(addr, "/", "").await;
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(
        head.contains("\r\ncontent-type: text/event-stream\r\n"),
        "no charset: {head}"
    );
    assert!(head.contains("\r\ncache-control: no-cache\r\n"), "{head}");
    assert!(head.contains("\r\nx-accel-buffering: no\r\n"), "{head}");
    assert!(
        head.contains("\r\ntransfer-encoding: chunked\r\n"),
        "{head}"
    );
    assert!(!head.contains("content-length"), "{head}");
    assert!(
        !head.contains("\r\nconnection:"),
        "no hop-by-hop Connection header: {head}"
    );
    gate.notify_one();
}

#[actix_web::test]
async fn events_arrive_while_the_handler_runs() {
    let gate = web::Data::new(Notify::new());
    let g = gate.clone();
    let (addr, _srv) = serve!(move || App::new()
        .app_data(g.clone())
        .route("/", web::get().to(gated)));
    let (status, _, mut evs) = events(&format!("http://{addr}/"), &[]).await;
    assert_eq!(status, 200);
    assert_delivered_one_by_one(&mut evs, &gate).await;
    assert_eq!(within(5, "clean end", evs.next()).await, None);
}

#[actix_web::test]
async fn compress_middleware_neither_compresses_nor_buffers() {
    let gate = web::Data::new(Notify::new());
    let g = gate.clone();
    let (addr, _srv) = serve!(move || App::new()
        .wrap(Compress::default())
        .app_data(g.clone())
        .route("/", web::get().to(gated)));
    let (status, headers, mut evs) = events(
        &format!("http://{addr}/"),
        &[("accept-encoding", b"gzip, br")],
    )
    .await;
    assert_eq!(status, 200);
    let enc = headers
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(matches!(enc.as_deref(), None | Some("identity")), "{enc:?}");
    assert_delivered_one_by_one(&mut evs, &gate).await;
}

#[actix_web::test]
async fn close_ends_the_body_cleanly_with_nothing_sent() {
    let (addr, _srv) = serve!(|| App::new().route(
        "/",
        web::get().to(|| async {
            Sse::from_fn(|tx| async move {
                tx.send("a").await.unwrap();
                tx.close();
                std::future::pending::<()>().await;
            })
        })
    ));
    let (mut stream, _, body) = raw_get(addr, "/", "").await;
    let (body, clean) = read_to_end(&mut stream, body).await;
    assert!(clean, "final chunk written");
    assert_eq!(body, b"9\r\ndata: a\n\n\r\n0\r\n\r\n");
}

#[actix_web::test]
async fn session_close_from_another_thread_ends_the_stream() {
    async fn ticks(session: SseSession) -> impl Responder {
        let s = session.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            s.close();
        });
        Sse::from_fn(|tx| async move {
            for i in 0.. {
                tx.send(format!("{i}")).await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, SendError>(())
        })
    }
    let (addr, _srv) = serve!(|| App::new().route("/", web::get().to(ticks)));
    let (_, _, evs) = events(&format!("http://{addr}/"), &[]).await;
    let got: Vec<Parsed> = within(5, "the stream to end", evs.collect()).await;
    assert!(!got.is_empty());
    for (i, ev) in got.iter().enumerate() {
        assert_eq!(ev.data, i.to_string());
    }
}

#[actix_web::test]
async fn heartbeats_keep_an_idle_stream_alive() {
    let (addr, _srv) = serve!(|| App::new().route(
        "/",
        web::get().to(|| async {
            Sse::from_fn(|_tx| std::future::pending::<()>()).heartbeat(Duration::from_millis(20))
        })
    ));
    let (mut stream, _, mut body) = raw_get(addr, "/", "").await;
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < Duration::from_millis(300) {
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await
        {
            assert!(n > 0);
            body.extend_from_slice(&buf[..n]);
        }
    }
    // Each heartbeat is one chunk `2\r\n:\n\r\n`.
    let beats = body.windows(7).filter(|w| w == b"2\r\n:\n\r\n").count();
    assert!(
        (8..=16).contains(&beats),
        "{beats} heartbeats in 300 ms at 20 ms"
    );
}

#[actix_web::test]
async fn refused_events_are_not_written_and_the_stream_goes_on() {
    let (addr, _srv) = serve!(|| App::new().route(
        "/",
        web::get().to(|| async {
            Sse::from_fn(|tx| async move {
                assert!(tx
                    .send(Event::data("x").id("1\nevent: evil"))
                    .await
                    .is_err());
                assert!(tx.send(Event::data("x").event("a\r\nid: 9")).await.is_err());
                assert!(tx.send(Event::data("x").id("nul\0")).await.is_err());
                tx.send(Event::data("good").id(1)).await.unwrap();
            })
        })
    ));
    let (_, _, evs) = events(&format!("http://{addr}/"), &[]).await;
    let got: Vec<Parsed> = within(5, "events", evs.collect()).await;
    assert_eq!(
        got,
        vec![Parsed {
            event: "message".into(),
            data: "good".into(),
            id: "1".into()
        }]
    );
}

#[actix_web::test]
async fn last_event_id_is_read_as_utf8_bytes() {
    async fn echo(last: LastEventId) -> impl Responder {
        let text = last.as_deref().unwrap_or("none").to_owned();
        Sse::from_fn(move |tx| async move { tx.send(text).await })
    }
    let (addr, _srv) = serve!(|| App::new().route("/", web::get().to(echo)));
    let url = format!("http://{addr}/");
    let data = |evs: Vec<Parsed>| evs.into_iter().map(|e| e.data).collect::<Vec<_>>();

    let (_, _, evs) = events(&url, &[]).await;
    assert_eq!(data(within(5, "absent", evs.collect()).await), ["none"]);
    let (_, _, evs) = events(&url, &[("last-event-id", "ü-🎉-1".as_bytes())]).await;
    assert_eq!(data(within(5, "utf-8", evs.collect()).await), ["ü-🎉-1"]);
    let (_, _, evs) = events(&url, &[("last-event-id", b"")]).await;
    assert_eq!(data(within(5, "empty", evs.collect()).await), ["none"]);

    // Nothing a client sends makes the extraction fail: a `400` would make an
    // `EventSource` stop reconnecting for good. What cannot be an id we sent is absent.
    let (status, _, evs) = events(&url, &[("last-event-id", b"\xff\xfe")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        data(within(5, "invalid utf-8", evs.collect()).await),
        ["none"]
    );
    let long = "9".repeat(1025);
    let (_, _, evs) = events(&url, &[("last-event-id", long.as_bytes())]).await;
    assert_eq!(data(within(5, "over 1 KiB", evs.collect()).await), ["none"]);
    let max = "9".repeat(1024);
    let (_, _, evs) = events(&url, &[("last-event-id", max.as_bytes())]).await;
    assert_eq!(data(within(5, "1 KiB", evs.collect()).await), [max]);
    let huge = "9".repeat(64 * 1024);
    let (status, _, evs) = events(&url, &[("last-event-id", huge.as_bytes())]).await;
    assert_eq!(status, 200);
    assert_eq!(data(within(5, "64 KiB", evs.collect()).await), ["none"]);
    let (status, _, evs) = events(&url, &[("last-event-id", b"1"), ("last-event-id", b"2")]).await;
    assert_eq!(status, 200);
    assert_eq!(data(within(5, "sent twice", evs.collect()).await), ["none"]);
}

struct Flag(Arc<AtomicBool>);
impl Drop for Flag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Serves one stream whose handler holds a drop guard; the client reads the first event
/// and goes away. Returns how long until the handler was dropped.
async fn time_to_drop(half_closed: bool, heartbeat: Duration) -> Duration {
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let (addr, _srv) = serve!(
        move || {
            let d = d.clone();
            App::new().route(
                "/",
                web::get().to(move || {
                    let flag = Flag(d.clone());
                    async move {
                        Sse::from_fn(move |tx| async move {
                            let _flag = flag;
                            tx.send("hello").await.unwrap();
                            std::future::pending::<()>().await;
                        })
                        .heartbeat(heartbeat)
                    }
                }),
            )
        },
        move |s: actix_web::HttpServer<_, _, _, _>| s.h1_allow_half_closed(half_closed)
    );
    let (mut stream, _, mut body) = raw_get(addr, "/", "").await;
    let mut buf = [0u8; 256];
    while !body.windows(7).any(|w| w == b"hello\n\n") {
        let n = within(5, "first event", stream.read(&mut buf))
            .await
            .unwrap();
        body.extend_from_slice(&buf[..n]);
    }
    assert!(!dropped.load(Ordering::SeqCst));
    drop(stream);
    let gone = Instant::now();
    within(10, "the handler to be dropped", async {
        while !dropped.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let took = gone.elapsed();
    eprintln!("handler dropped {took:?} after the client left (half-closed allowed: {half_closed}, heartbeat {heartbeat:?})");
    took
}

#[actix_web::test]
async fn disconnect_drops_the_handler_within_two_heartbeats() {
    // actix-web's default keeps a half-closed connection open; the first write after the
    // client's FIN still succeeds, the next one fails: two heartbeats at most.
    let hb = Duration::from_millis(200);
    let took = time_to_drop(true, hb).await;
    assert!(took < 2 * hb + Duration::from_millis(300), "took {took:?}");
}

#[actix_web::test]
async fn disconnect_drops_the_handler_at_once_without_half_close() {
    // With `h1_allow_half_closed(false)` the dispatcher ends on the client's FIN.
    let hb = Duration::from_secs(5);
    let took = time_to_drop(false, hb).await;
    assert!(took < Duration::from_millis(500), "took {took:?}");
}

#[actix_web::test]
async fn a_slow_client_does_not_grow_server_memory() {
    let produced = Arc::new(AtomicUsize::new(0));
    let p = produced.clone();
    let (addr, _srv) = serve!(move || {
        let p = p.clone();
        App::new().route(
            "/",
            web::get().to(move || {
                let p = p.clone();
                async move {
                    Sse::from_fn(move |tx| async move {
                        let event = "x".repeat(1018); // 1 KiB on the wire
                        for _ in 0..1_000_000 {
                            tx.send(event.as_str()).await.unwrap();
                            p.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                }
            }),
        )
    });
    // A client that reads the head and then nothing.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = within(5, "connect", socket.connect(addr)).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // Wait for the producer to stall: no progress for 300 ms (at most 10 s).
    let start = Instant::now();
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = produced.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "producer never stalled: {now} events"
        );
    }
    // What was produced sits in kernel socket buffers, actix-web's write buffer (32 KiB)
    // and ours (16 KiB + one event); nothing else grows.
    let bytes = last * 1024;
    assert!(
        bytes < 16 << 20,
        "{bytes} bytes produced for a client that reads nothing"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(produced.load(Ordering::SeqCst), last, "still stalled");
    drop(stream);
}

#[actix_web::test]
async fn a_panicking_handler_ends_only_its_own_stream() {
    async fn panics() -> impl Responder {
        Sse::from_fn(|tx| async move {
            tx.send("before").await.unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
            if true {
                panic!("handler bug");
            }
        })
    }
    async fn ticks() -> impl Responder {
        Sse::from_fn(|tx| async move {
            for i in 0..10 {
                tx.send(format!("{i}")).await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }
    let (addr, _srv) = serve!(|| App::new()
        .route("/panic", web::get().to(panics))
        .route("/ticks", web::get().to(ticks))
        .route(
            "/plain",
            web::get().to(|| async { HttpResponse::Ok().body("alive") })
        ));
    let (_, _, ticks_evs) = events(&format!("http://{addr}/ticks"), &[]).await;
    let (mut stream, _, body) = raw_get(addr, "/panic", "").await;
    // The panicking stream delivers what it sent, then is cut (no final chunk).
    let (body, clean) = read_to_end(&mut stream, body).await;
    assert!(!clean, "a panic must not look like a clean end");
    assert_eq!(body, b"E\r\ndata: before\n\n\r\n");
    // The other stream on the same single worker is untouched.
    let got: Vec<String> = within(5, "ticks", ticks_evs.map(|e| e.data).collect()).await;
    assert_eq!(got, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    // And the worker still serves.
    let mut ok = within(
        5,
        "after",
        awc::Client::new()
            .get(format!("http://{addr}/plain"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(&within(5, "body", ok.body()).await.unwrap()[..], b"alive");
}

/// HTTP/1.0 has no chunked encoding: such a client gets the events as a plain body that
/// ends when the server closes the connection (also when it asked for keep-alive).
#[actix_web::test]
async fn http_1_0_clients_get_a_close_delimited_body() {
    async fn two() -> impl Responder {
        Sse::from_fn(|tx| async move {
            tx.send("a").await?;
            tx.send(Event::data("b").id(1)).await
        })
    }
    let (addr, _srv) = serve!(|| App::new().route("/", web::get().to(two)));
    for extra in ["", "Connection: keep-alive\r\n"] {
        let mut stream = within(5, "connect", TcpStream::connect(addr))
            .await
            .unwrap();
        let req = format!("GET / HTTP/1.0\r\nHost: localhost\r\n{extra}\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        within(
            5,
            "the server closes the connection",
            stream.read_to_end(&mut raw),
        )
        .await
        .unwrap();
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8(raw[..end].to_vec())
            .unwrap()
            .to_ascii_lowercase();
        assert!(head.starts_with("http/1.0 200 ok\r\n"), "{head}");
        assert!(
            head.contains("\r\ncontent-type: text/event-stream\r\n"),
            "{head}"
        );
        assert!(!head.contains("transfer-encoding"), "{extra:?}: {head}");
        assert!(!head.contains("content-length"), "{extra:?}: {head}");
        assert!(!head.contains("keep-alive"), "{extra:?}: {head}");
        assert_eq!(&raw[end..], b"data: a\n\nid: 1\ndata: b\n\n", "{extra:?}");
    }
}
