//! The gateway example (`examples/gateway.rs`) in front of the LLM example
//! (`examples/llm.rs`), both on real sockets: a `401` of the upstream is a `401` here before
//! any stream; the chunks and `data: [DONE]` come through unchanged; a caller that leaves
//! cancels the upstream request (its response body dropped, measured upstream).

use crate::common;

use crate::{gateway, llm};

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use actix_web::{
    body::{BodySize, BoxBody, MessageBody},
    dev::Service,
    web::Bytes,
    App,
};
use common::{raw_request, within};
use futures_util::FutureExt;

const PATH: &str = "/v1/chat/completions";

fn request(words: usize) -> String {
    let content: Vec<String> = (0..words).map(|i| format!("w{i}")).collect();
    serde_json::json!({
        "model": "echo-1",
        "stream": true,
        "messages": [{"role": "user", "content": content.join(" ")}]
    })
    .to_string()
}

/// POSTs `body` with awc; the status, content type and body.
async fn post(url: &str, auth: Option<&str>, body: String) -> (u16, String, Bytes) {
    let mut req = awc::Client::new()
        .post(url)
        .insert_header(("content-type", "application/json"));
    if let Some(auth) = auth {
        req = req.insert_header(("authorization", auth));
    }
    let mut res = within(10, "the answer", req.send_body(body)).await.unwrap();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = within(10, "the body", res.body().limit(1 << 20))
        .await
        .unwrap();
    (res.status().as_u16(), content_type, body)
}

/// The data of each event, chunk ids and timestamps left out (each completion has its own).
fn chunks(body: &[u8]) -> Vec<serde_json::Value> {
    let mut parser = actix_sse::test::Parser::new();
    let mut out = Vec::new();
    parser.feed(body, &mut out);
    out.into_iter()
        .filter_map(|m| match m {
            actix_sse::test::Message::Event(e) => Some(e),
            _ => None,
        })
        .map(|e| {
            assert_eq!((e.event.as_str(), e.id.as_str()), ("message", ""));
            match serde_json::from_str::<serde_json::Value>(&e.data) {
                Ok(mut v) => {
                    v["id"] = "-".into();
                    v["created"] = 0.into();
                    v
                }
                Err(_) => e.data.into(),
            }
        })
        .collect()
}

#[actix_web::test]
async fn the_upstream_answer_comes_through_401_first_then_every_chunk_and_done() {
    let (up, _up) = serve!(|| App::new().service(llm::completions));
    let upstream = format!("http://{up}");
    let (gw, _gw) = serve!(move || App::new().configure(gateway::configure(upstream.clone())));

    // 401 from the upstream: 401 here, its JSON error as it was.
    let (status, content_type, body) = post(&format!("http://{gw}{PATH}"), None, request(2)).await;
    assert_eq!(status, 401, "{body:?}");
    assert_eq!(content_type, "application/json");
    let (_, _, direct) = post(&format!("http://{up}{PATH}"), None, request(2)).await;
    assert_eq!(body, direct);

    // A stream: the same chunks and [DONE] as the upstream's own.
    let (status, content_type, relayed) = post(
        &format!("http://{gw}{PATH}"),
        Some("Bearer sk-1"),
        request(5),
    )
    .await;
    assert_eq!((status, content_type.as_str()), (200, "text/event-stream"));
    let (_, _, direct) = post(
        &format!("http://{up}{PATH}"),
        Some("Bearer sk-1"),
        request(5),
    )
    .await;
    let relayed_chunks = chunks(&relayed);
    assert_eq!(relayed_chunks, chunks(&direct));
    assert_eq!(
        relayed_chunks.len(),
        10,
        "role, 7 words (`You said: w0 .. w4`), stop, [DONE]: {relayed_chunks:?}"
    );
    assert!(relayed.ends_with(b"data: [DONE]\n\n"));
    // Nothing but `data:` lines, heartbeat comments and the empty lines between events.
    for line in relayed.split(|b| *b == b'\n') {
        assert!(
            line.is_empty()
                || line.starts_with(b"data: {")
                || line == b"data: [DONE]"
                || line.starts_with(b":"),
            "{}",
            String::from_utf8_lossy(line)
        );
    }

    // A plain JSON answer (`"stream": false`) passes through too.
    let plain = request(2).replace("\"stream\":true", "\"stream\":false");
    let (status, content_type, body) =
        post(&format!("http://{gw}{PATH}"), Some("Bearer sk-1"), plain).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .contains("You said: w0 w1"));
}

/// A response body that records when it is dropped.
struct DropProbe {
    body: BoxBody,
    dropped: Arc<Mutex<Option<Instant>>>,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        *self.dropped.lock().unwrap() = Some(Instant::now());
    }
}

impl MessageBody for DropProbe {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

#[actix_web::test]
async fn a_caller_that_leaves_cancels_the_upstream_request() {
    let dropped = Arc::new(Mutex::new(None::<Instant>));
    let probe = dropped.clone();
    let (up, _up) = serve!(move || {
        let probe = probe.clone();
        App::new()
            .wrap_fn(move |req, srv| {
                let probe = probe.clone();
                srv.call(req).map(move |res| {
                    res.map(|res| {
                        res.map_body(move |_, body| DropProbe {
                            body: body.boxed(),
                            dropped: probe,
                        })
                    })
                })
            })
            .service(llm::completions)
    });
    let upstream = format!("http://{up}");
    let (gw, _gw) = serve!(move || App::new().configure(gateway::configure(upstream.clone())));

    // 200 words at 30 ms each: six seconds of stream.
    let body = request(200);
    let extra = "Content-Type: application/json\r\nAuthorization: Bearer sk-1\r\n";
    let (mut conn, head, mut got) = raw_request(gw, "POST", PATH, extra, &body).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b" w3\"") {
        let n = within(5, "a few chunks", conn.read(&mut buf))
            .await
            .unwrap();
        assert!(n > 0, "the gateway ended the stream");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        dropped.lock().unwrap().is_none(),
        "the upstream is still streaming"
    );
    let left = Instant::now();
    drop(conn);
    let after = within(5, "the upstream body dropped", async {
        loop {
            if let Some(at) = *dropped.lock().unwrap() {
                return at.duration_since(left);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    eprintln!("upstream request dropped {after:?} after the caller left");
    assert!(after < Duration::from_secs(1), "{after:?}");
}
