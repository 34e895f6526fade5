//! An LLM gateway: `POST /v1/chat/completions` forwarded to an upstream OpenAI-compatible
//! API with its body and `Authorization`, and the upstream's stream relayed to the caller
//! event by event, as it comes (`actix_sse::client`).
//!
//! ```text
//! cargo run --example llm                  # the upstream, on 127.0.0.1:8085
//! cargo run --example gateway              # 127.0.0.1:8086 (PORT; UPSTREAM to change
//!                                          # http://127.0.0.1:8085)
//! curl -N http://127.0.0.1:8086/v1/chat/completions \
//!      -H 'Authorization: Bearer sk-demo' -H 'Content-Type: application/json' \
//!      -d '{"model": "echo-1", "stream": true, "messages": [{"role": "user", "content": "Hello there"}]}'
//! ```
//!
//! - The upstream's answer before streaming is the answer here: a `401` (or `400`, ..) is
//!   passed on with its body, before anything is streamed; so is a plain JSON answer
//!   (`"stream": false`). No answer at all is a `502`.
//! - The chunks and the final `data: [DONE]` go through unchanged (`send!(event)` writes a
//!   client event with its own fields and data).
//! - Back-pressure end to end: `send!` waits for the caller, and the upstream is read only
//!   as fast as the caller reads. A caller that leaves drops this handler, and with it the
//!   upstream request: the upstream stops generating.
//! - The request is never sent twice (`max_reconnects(0)`): a completion is not resumable.

use actix_sse::client::{Error, EventSource};
use actix_sse::prelude::*;
use actix_web::{http::header, web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;

/// The upstream's base URL (`UPSTREAM`).
pub struct Upstream(pub String);

/// `POST /v1/chat/completions`, relayed.
#[sse("/v1/chat/completions", method = "post", head_wait = "30s")]
pub async fn completions(
    req: HttpRequest,
    body: web::Bytes,
    upstream: web::Data<Upstream>,
) -> Result<(), actix_web::Error> {
    let mut request = EventSource::post(format!("{}/v1/chat/completions", upstream.0))
        .body(body)
        .max_reconnects(0);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(value) = req.headers().get(&name) {
            request = request.header((name, value.clone()));
        }
    }
    let mut events = match request.connect().await {
        Ok(events) => events,
        // The upstream's own answer, before streaming: its status, type and body.
        Err(Error::Status {
            status,
            content_type,
            body,
        }) => reject!(answer(status.as_u16(), content_type, body)),
        Err(Error::ContentType { content_type, body }) => {
            reject!(answer(200, content_type, body))
        }
        Err(e) => {
            log::warn!("upstream {}: {e}", upstream.0);
            reject!(HttpResponse::BadGateway().json(serde_json::json!({
                "error": { "message": format!("upstream: {e}"), "type": "upstream_error", "code": null }
            })))
        }
    };
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => send!(event)?,
            Err(e) => {
                // Mid-stream: the caller sees the stream end without `[DONE]`.
                log::warn!("upstream {}: {e}", upstream.0);
                break;
            }
        }
    }
    Ok(())
}

/// The upstream's answer as it was.
fn answer(status: u16, content_type: Option<String>, body: web::Bytes) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut res = HttpResponse::build(status);
    if let Some(content_type) = content_type {
        res.insert_header((header::CONTENT_TYPE, content_type));
    }
    res.body(body)
}

/// The gateway's routes, relaying to `upstream`.
pub fn configure(upstream: String) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(Upstream(upstream)))
            .service(completions);
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8086);
    let upstream = std::env::var("UPSTREAM")
        .unwrap_or_else(|_| "http://127.0.0.1:8085".to_owned())
        .trim_end_matches('/')
        .to_owned();
    let target = upstream.clone();
    let server = HttpServer::new(move || App::new().configure(configure(target.clone())))
        .sse_defaults()
        .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("gateway: POST http://{addr}/v1/chat/completions -> {upstream} (Ctrl-C to stop)");
    }
    server.run().await
}
