//! The LLM example (`examples/llm.rs`) as LLM clients use it: an OpenAI-style
//! `POST /v1/chat/completions` on a real server, read byte for byte by a raw HTTP/1.1
//! client and by a Node `fetch` reader (the shape of fetch-based LLM SDKs).

use crate::common;

use crate::llm;

use actix_web::App;
use common::{raw_request, read_chunked_to_end};

const PATH: &str = "/v1/chat/completions";
const BODY: &str =
    r#"{"model":"echo-1","stream":true,"messages":[{"role":"user","content":"Hello there"}]}"#;

/// The payload of a chunked body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = std::str::from_utf8(&raw[..line]).unwrap();
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        raw = &raw[line + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        assert_eq!(&raw[size..size + 2], b"\r\n", "chunk ends with CRLF");
        raw = &raw[size + 2..];
    }
}

async fn post(addr: std::net::SocketAddr, headers: &str, body: &str) -> (String, Vec<u8>) {
    let extra = format!("Content-Type: application/json\r\n{headers}");
    let (mut stream, head, rest) = raw_request(addr, "POST", PATH, &extra, body).await;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let (raw, complete) = read_chunked_to_end(&mut stream, rest, 5).await;
        assert!(complete, "the stream ends with its final chunk");
        dechunk(&raw)
    } else {
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(|v| v.trim().parse().unwrap())
            })
            .expect("content-length");
        let mut body = rest;
        use tokio::io::AsyncReadExt;
        while body.len() < len {
            let mut buf = [0u8; 4096];
            let n = common::within(5, "body", stream.read(&mut buf))
                .await
                .unwrap();
            assert!(n > 0, "closed before the body's end");
            body.extend_from_slice(&buf[..n]);
        }
        body
    };
    (head, body)
}

#[actix_web::test]
async fn streams_chunks_as_json_data_and_ends_with_a_raw_done() {
    let (addr, _srv) = serve!(|| App::new().service(llm::completions));
    let (head, body) = post(addr, "Authorization: Bearer sk-test\r\n", BODY).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("content-type: text/event-stream\r\n"),
        "{head}"
    );

    // Every event is exactly one `data:` line and a blank line; the last is `[DONE]`, as
    // written (not the JSON string "[DONE]").
    let text = String::from_utf8(body).unwrap();
    assert!(text.ends_with("\n\ndata: [DONE]\n\n"), "{text}");
    let events: Vec<&str> = text.strip_suffix("\n\n").unwrap().split("\n\n").collect();
    let (done, chunks) = events.split_last().unwrap();
    assert_eq!(*done, "data: [DONE]");
    let mut content = String::new();
    for (i, event) in chunks.iter().enumerate() {
        let json = event.strip_prefix("data: ").expect("a data line");
        assert!(!json.contains('\n'), "one line per event: {event:?}");
        let chunk: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "echo-1");
        assert_eq!(chunk["id"], chunks_id(chunks));
        let choice = &chunk["choices"][0];
        if i == 0 {
            assert_eq!(choice["delta"]["role"], "assistant");
        }
        let last = i == chunks.len() - 1;
        assert_eq!(
            choice["finish_reason"],
            if last {
                serde_json::Value::from("stop")
            } else {
                serde_json::Value::Null
            }
        );
        if let Some(token) = choice["delta"]["content"].as_str() {
            content.push_str(token);
        }
    }
    assert_eq!(content, "You said: Hello there");
    // The role, one chunk per word (4), the stop: no token is merged or lost.
    assert_eq!(chunks.len(), 6);
}

fn chunks_id(chunks: &[&str]) -> serde_json::Value {
    let first: serde_json::Value =
        serde_json::from_str(chunks[0].strip_prefix("data: ").unwrap()).unwrap();
    first["id"].clone()
}

#[actix_web::test]
async fn a_missing_key_is_401_and_a_malformed_body_400_before_any_stream() {
    let (addr, _srv) = serve!(|| App::new().service(llm::completions));
    for (headers, body, status) in [
        ("", BODY, "401 Unauthorized"),
        ("Authorization: Basic abc\r\n", BODY, "401 Unauthorized"),
        ("Authorization: Bearer \r\n", BODY, "401 Unauthorized"),
        // The key is checked first, as OpenAI's API does.
        ("", "{not json", "401 Unauthorized"),
        (
            "Authorization: Bearer sk\r\n",
            "{not json",
            "400 Bad Request",
        ),
        (
            "Authorization: Bearer sk\r\n",
            r#"{"model":"m"}"#,
            "400 Bad Request",
        ),
        (
            "Authorization: Bearer sk\r\n",
            r#"{"model":"m","stream":true,"messages":[{"role":"system","content":"x"}]}"#,
            "400 Bad Request",
        ),
    ] {
        let (head, body) = post(addr, headers, body).await;
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}\r\n")),
            "{headers:?}: {head}"
        );
        assert!(!head.contains("text/event-stream"), "{head}");
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
    }
}

#[actix_web::test]
async fn without_stream_the_completion_is_one_json_answer() {
    let (addr, _srv) = serve!(|| App::new().service(llm::completions));
    let body = r#"{"model":"m","messages":[{"role":"user","content":"a b"}]}"#;
    let (head, body) = post(addr, "Authorization: Bearer sk\r\n", body).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("content-type: application/json\r\n"),
        "{head}"
    );
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["content"], "You said: a b");
}

#[actix_web::test]
async fn node_a_fetch_reader_gets_every_token_and_done() {
    common::browser::require_node();
    let (addr, _srv) = serve!(|| App::new().service(llm::completions));
    let url = format!("http://{addr}{PATH}");
    let report = common::browser::run(
        20,
        "llm_fetch.mjs",
        vec![url.clone(), "Bearer sk-test".into(), BODY.into()],
    )
    .await;
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["contentType"], "text/event-stream", "{report}");
    assert_eq!(report["content"], "You said: Hello there", "{report}");
    assert_eq!(report["done"], true, "{report}");
    assert_eq!(report["afterDone"], 0, "{report}");
    assert_eq!(report["chunks"].as_array().unwrap().len(), 6, "{report}");

    let report =
        common::browser::run(20, "llm_fetch.mjs", vec![url, String::new(), BODY.into()]).await;
    assert_eq!(report["status"], 401, "{report}");
    assert_eq!(
        report["error"]["error"]["type"], "invalid_request_error",
        "{report}"
    );
    assert_eq!(report["chunks"].as_array().unwrap().len(), 0, "{report}");
}
