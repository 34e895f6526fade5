//! `#[sse("/v1/completions", method = "post")]`: a `POST` with a JSON body, read with
//! `web::Json`, answered with a stream (as fetch-based clients and LLM-style APIs do), on a
//! real server, parsed by the independent parser.

use crate::common;

use actix_sse::prelude::*;
use actix_web::{http::StatusCode, web, App, HttpMessage as _};
use common::{within, Parsed};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Prompt {
    prompt: String,
    max_tokens: usize,
}

#[derive(Serialize)]
struct Token<'a> {
    text: &'a str,
}

#[sse("/v1/completions", method = "post", serialize = json)]
async fn completions(body: web::Json<Prompt>) {
    for word in body.prompt.split(' ').take(body.max_tokens) {
        send!(Token { text: word }, event = "token");
    }
    send!(Token { text: "[DONE]" }, event = "done");
}

#[sse("/items/{id}", method = "DELETE")]
async fn delete(id: web::Path<u32>) {
    send!(format!("deleting {id}"));
    send!(format!("deleted {id}"));
}

async fn post(
    url: &str,
    method: awc::http::Method,
    json: Option<serde_json::Value>,
) -> (StatusCode, Vec<Parsed>) {
    let req = awc::Client::new().request(method, url);
    let mut resp = match json {
        Some(json) => within(5, "response", req.send_json(&json)).await,
        None => within(5, "response", req.send()).await,
    }
    .unwrap();
    let status = resp.status();
    if status != StatusCode::OK {
        return (status, Vec::new());
    }
    let events = within(
        5,
        "the stream",
        resp.take_payload()
            .eventsource()
            .map(|e| {
                let e = e.unwrap();
                Parsed {
                    event: e.event,
                    data: e.data,
                    id: e.id,
                }
            })
            .collect::<Vec<_>>(),
    )
    .await;
    (status, events)
}

#[actix_web::test]
async fn a_post_with_a_json_body_is_answered_with_a_stream() {
    let (addr, _srv) = serve!(|| App::new().service(completions).service(delete));
    let url = format!("http://{addr}/v1/completions");
    let (status, events) = post(
        &url,
        awc::http::Method::POST,
        Some(serde_json::json!({"prompt": "streams for every method", "max_tokens": 3})),
    )
    .await;
    assert_eq!(status, 200);
    let got: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.event.as_str(), e.data.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("token", r#"{"text":"streams"}"#),
            ("token", r#"{"text":"for"}"#),
            ("token", r#"{"text":"every"}"#),
            ("done", r#"{"text":"[DONE]"}"#),
        ]
    );

    // The body extractor's own error: a body that is not the JSON expected is a 400.
    let (status, _) = post(
        &url,
        awc::http::Method::POST,
        Some(serde_json::json!({"prompt": 42})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Only the method given: a GET does not reach the handler.
    let (status, _) = post(&url, awc::http::Method::GET, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Any case, other methods.
    let (status, events) = post(
        &format!("http://{addr}/items/7"),
        awc::http::Method::DELETE,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(events[1].data, "deleted 7");
}
