//! An OpenAI-compatible chat completions endpoint that streams its answer token by token,
//! the way LLM APIs do: `POST /v1/chat/completions` with a JSON body, `data: {chunk}` events
//! and a closing `data: [DONE]`.
//!
//! ```text
//! cargo run --example llm        # serves on 127.0.0.1:8085 (PORT to change)
//! curl -N http://127.0.0.1:8085/v1/chat/completions \
//!      -H 'Authorization: Bearer sk-demo' -H 'Content-Type: application/json' \
//!      -d '{"model": "echo-1", "stream": true, "messages": [{"role": "user", "content": "Hello there"}]}'
//! ```
//!
//! The "model" answers with the last user message, one word per chunk. Before anything is
//! streamed, the request is checked: no `Authorization: Bearer <token>` (or, with `API_KEY`
//! set, another token) answers `401`, a body that is not a chat request answers `400`, both
//! with OpenAI's JSON error shape. With `"stream": false` the whole completion is one JSON
//! answer.
//!
//! Each chunk goes through `serialize = json`; the closing `[DONE]` is not JSON, so it is
//! sent as an `Event`, which goes out as it is.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_sse::prelude::*;
use actix_web::{
    error::InternalError, http::header, web, App, HttpRequest, HttpResponse, HttpServer,
};
use serde::{Deserialize, Serialize};

/// The request body: what OpenAI's chat completions API takes (the fields used here).
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// Echoed in every chunk.
    pub model: String,
    /// The conversation; the last `user` message is answered.
    pub messages: Vec<Message>,
    /// `true` for a stream of chunks, `false` (the default) for one JSON answer.
    #[serde(default)]
    pub stream: bool,
}

/// One message of the conversation.
#[derive(Debug, Deserialize, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub content: String,
}

/// One event of the stream: `object` is `chat.completion.chunk`.
#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [ChunkChoice; 1],
}

#[derive(Serialize)]
struct ChunkChoice {
    index: u32,
    delta: Delta,
    finish_reason: Option<&'static str>,
}

/// What a chunk adds: the role first, then the content token by token.
#[derive(Serialize)]
struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

/// The pause between tokens, as a model would take (`TOKEN_DELAY_MS`, 30 ms by default).
fn token_delay() -> Duration {
    let ms = std::env::var("TOKEN_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    Duration::from_millis(ms)
}

/// OpenAI's error shape: `{"error": {"message": .., "type": .., "code": ..}}`.
fn api_error(status: actix_web::http::StatusCode, kind: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "error": { "message": message, "type": kind, "code": null }
    }))
}

/// `401` unless the request carries `Authorization: Bearer <token>` (the `API_KEY`
/// environment variable's token, if set; any non-empty one otherwise).
fn authorize(req: &HttpRequest) -> Result<(), actix_web::Error> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let expected = std::env::var("API_KEY").ok();
    match (token, expected) {
        (Some(t), Some(key)) if t == key => Ok(()),
        (Some(_), None) => Ok(()),
        _ => Err(InternalError::from_response(
            "unauthorized",
            api_error(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "missing or invalid API key: send `Authorization: Bearer <token>`",
            ),
        )
        .into()),
    }
}

static COMPLETIONS: AtomicU64 = AtomicU64::new(1);

/// `POST /v1/chat/completions`.
#[sse("/v1/chat/completions", method = "post", serialize = json)]
pub async fn completions(req: HttpRequest, body: web::Bytes) -> Result<(), actix_web::Error> {
    // Checked before the first event: an `Err` here is the response (401), not a stream.
    // The key first, then the body, as OpenAI's API does.
    authorize(&req)?;
    let body: ChatRequest = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => reject!(api_error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!("invalid request body: {e}"),
        )),
    };
    let Some(question) = body.messages.iter().rev().find(|m| m.role == "user") else {
        reject!(api_error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "`messages` has no `user` message",
        ));
    };
    let answer = format!("You said: {}", question.content);
    let id = format!("chatcmpl-{}", COMPLETIONS.fetch_add(1, Ordering::Relaxed));
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if !body.stream {
        reject!(HttpResponse::Ok().json(serde_json::json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": answer },
                "finish_reason": "stop",
            }],
        })));
    }

    let chunk = |delta, finish_reason| Chunk {
        id: &id,
        object: "chat.completion.chunk",
        created,
        model: &body.model,
        choices: [ChunkChoice {
            index: 0,
            delta,
            finish_reason,
        }],
    };
    let delay = token_delay();
    send!(chunk(
        Delta {
            role: Some("assistant"),
            content: Some(String::new()),
        },
        None
    ))?;
    // One word (with the space before it) per chunk.
    for (i, word) in answer.split(' ').enumerate() {
        tokio::time::sleep(delay).await;
        let token = if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        };
        let delta = Delta {
            role: None,
            content: Some(token),
        };
        send!(chunk(delta, None))?;
    }
    let done = Delta {
        role: None,
        content: None,
    };
    send!(chunk(done, Some("stop")))?;
    // Not JSON: an `Event` is sent as it is, past the serializer.
    send!(Event::data("[DONE]"))?;
    Ok(())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8085);
    let server = HttpServer::new(|| App::new().service(completions))
        .sse_defaults()
        .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("llm: POST http://{addr}/v1/chat/completions (Ctrl-C to stop)");
    }
    server.run().await
}
