//! Follows a Server-Sent Events stream from the command line, as a browser's `EventSource`
//! would: one JSON line per event on stdout, every reconnection on stderr.
//!
//! ```text
//! cargo run --example demo &                                   # 127.0.0.1:8080
//! cargo run --example follow -- http://127.0.0.1:8080/counter
//! {"id":"0","event":"message","data":"0"}
//! ...
//! ```
//!
//! - Each event is `{"id": .., "event": .., "data": ..}`: `id` is the last event id the
//!   client holds (as `MessageEvent.lastEventId`), `event` is `"message"` when the event
//!   has no type.
//! - When the stream ends or the connection breaks, it reconnects after the server's
//!   `retry` (3 s until one came) with `Last-Event-ID`, so a server that restarts resumes
//!   where it was; one line on stderr says so. Failed attempts back off, with jitter.
//! - It exits with 0 when the server says `204 No Content` (stop for good), and with 1 and
//!   the reason on stderr on another status (`404`), another content type, or an
//!   unreachable server at the start.

use std::process::ExitCode;

use actix_sse::client::EventSource;
use futures_util::StreamExt;

/// One line of stdout, its keys in this order.
#[derive(serde::Serialize)]
struct Line<'a> {
    id: &'a str,
    event: &'a str,
    data: &'a str,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: follow <url>");
        return ExitCode::from(2);
    };
    let events = EventSource::get(url.as_str())
        .on_reconnect(|r| eprintln!("follow: {r}"))
        .connect()
        .await;
    let mut events = match events {
        Ok(events) => events,
        Err(e) => {
            eprintln!("follow: {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => {
                let line = Line {
                    id: event.last_event_id(),
                    event: event.event_type(),
                    data: event.data(),
                };
                println!(
                    "{}",
                    serde_json::to_string(&line).expect("strings serialize")
                );
            }
            Err(e) => {
                eprintln!("follow: {url}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("follow: {url}: the server stopped the stream (204 No Content)");
    ExitCode::SUCCESS
}
