//! An SSE client on actix's own HTTP client (`awc`): read a stream of Server-Sent Events
//! from a URL the way a browser's `EventSource` reads it, with reconnection and resume,
//! inside actix-web handlers or anywhere an actix (or tokio current-thread) runtime runs.
//! Feature `client`.
//!
//! ```no_run
//! use actix_sse::client::EventSource;
//! use futures_util::StreamExt;
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), actix_sse::client::Error> {
//! let mut events = EventSource::get("http://127.0.0.1:8080/counter")
//!     .retry(Duration::from_secs(1)) // until the server sends `retry`
//!     .max_reconnects(10)
//!     .connect()
//!     .await?;
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{} {}: {}", event.last_event_id(), event.event_type(), event.data());
//! }
//! # Ok(()) }
//! # let _ = run;
//! ```
//!
//! Any method, headers and a body, as LLM APIs want (`POST` with JSON and
//! `Authorization`), with typed reading:
//!
//! ```no_run
//! use actix_sse::client::EventSource;
//! use futures_util::StreamExt;
//!
//! #[derive(serde::Deserialize)]
//! struct Chunk { text: String }
//!
//! # async fn run() -> Result<(), actix_sse::client::Error> {
//! let mut chunks = EventSource::post("http://127.0.0.1:8085/v1/chat/completions")
//!     .bearer_auth("sk-test")
//!     .json(&serde_json::json!({ "model": "m", "stream": true, "messages": [] }))
//!     .max_reconnects(0)
//!     .connect()
//!     .await?
//!     .json::<Chunk>();
//! while let Some(chunk) = chunks.next().await {
//!     print!("{}", chunk?.text);
//! }
//! # Ok(()) }
//! # let _ = run;
//! ```
//!
//! # Reading
//!
//! The body is parsed by the WHATWG rules, by the same parser as
//! [`actix_sse::test`](https://docs.rs/actix-sse/latest/actix_sse/test/) reads handlers
//! with. Each item is a [`ServerSentEvent`]: the event's data, type, its block's own `id`
//! and `retry`, and the last event id the client holds. Comments and blocks with only
//! `retry` are left out unless asked for ([`Builder::show_comments`],
//! [`Builder::show_retry`]); [`ServerSentEvent::json`] and [`EventSource::json`] read the
//! data as JSON.
//!
//! # Answers and reconnection
//!
//! As in a browser:
//!
//! - `200` with `Content-Type: text/event-stream` (any parameters) is a stream;
//! - `204 No Content` ends the stream, without error and for good;
//! - any other status fails with [`Error::Status`], another content type with
//!   [`Error::ContentType`]: never retried (a `401` stays a `401`);
//! - when the body ends (cleanly or not), or a reconnection finds no server, the client
//!   waits the reconnection time — the server's last `retry`, or
//!   [`Builder::retry`] ([`DEFAULT_RECONNECTION_TIME`], 3 s) — and sends the request again
//!   with `Last-Event-ID` set to the last event id it holds (none after an empty `id:`
//!   field reset it). Each further failed attempt in a row waits twice as long, up to
//!   [`Builder::max_backoff`], a random part of it above half (jitter), so that many
//!   clients do not come back at once; [`Builder::max_reconnects`] bounds the attempts in
//!   a row (unlimited by default), after which the stream ends with the last error.
//!   [`Builder::on_reconnect`] sees each one.
//!
//! The first request ([`Builder::connect`]) is not retried: its error, status or content
//! type is the answer, with the start of an error body, so that a gateway can pass a
//! `401` on before it streams anything.
//!
//! # Back-pressure and memory
//!
//! The socket is read only when the stream is polled and has no parsed event left, so a
//! consumer that takes events slowly slows the server down (through TCP), and a relay
//! ([`send!`](https://docs.rs/actix-sse/latest/actix_sse/macro.send.html) waits for its own
//! client) paces the upstream by its downstream. What the client holds is bounded by one
//! event — at most [`Builder::max_event_size`] bytes of data and unfinished line
//! ([`DEFAULT_MAX_EVENT_SIZE`], 8 MiB; past it the stream fails with [`Error::TooLarge`])
//! — plus the events parsed from the last chunk read from the socket (one read of
//! `awc`'s buffer).
//!
//! # Relaying
//!
//! A [`ServerSentEvent`] is an [`IntoEvent`](crate::IntoEvent): `send!(ev)` in an `#[sse]`
//! handler (also with `serialize = json`) sends it on with its own `event`, `id`, `retry`
//! and data, so that the downstream client's last event id is the upstream's, and it can
//! resume through the relay. When the downstream client leaves, the handler's future is
//! dropped, and with it the upstream request.
//!
//! # TLS
//!
//! The plain client made for each stream speaks HTTP/1.1 without TLS. For `https://`,
//! enable one of `awc`'s TLS features (`rustls-0_23-webpki-roots`, `openssl`) in your
//! own `Cargo.toml` and pass a client built with it: [`Builder::client`].

mod error;
mod event;
mod source;

pub use awc;
pub use error::Error;
pub use event::ServerSentEvent;
pub use source::{
    Builder, EventSource, JsonEvents, Reconnect, DEFAULT_HEAD_TIMEOUT, DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_EVENT_SIZE, DEFAULT_RECONNECTION_TIME,
};
