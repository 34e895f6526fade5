//! Stream-style handlers: return any `Stream` of events instead of calling `send!`.
//!
//! A bare `yield` cannot appear in the annotated fn itself on stable Rust (rustc
//! feature-gates `yield` while parsing the attribute's input), so the stream is an
//! `async_stream::stream!` block, or any other stream (here also a channel receiver).
//!
//! ```text
//! cargo run --example stream   # curl -N http://127.0.0.1:8082/numbers
//! ```

use std::time::Duration;

use actix_sse::{prelude::*, Stream};
use actix_web::{App, HttpServer};
use serde::Serialize;

#[sse("/numbers")]
async fn numbers() -> impl Stream<Item = Event> {
    async_stream::stream! {
        for i in 0..10u32 {
            yield Event::data(format!("{i} squared is {}", i * i)).id(i);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[derive(Serialize)]
struct Reading {
    sensor: &'static str,
    celsius: f32,
}

/// With `serialize = json`, the stream yields values for the serializer.
#[sse("/readings", serialize = json)]
async fn readings() -> impl Stream<Item = Reading> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        for i in 0..5u8 {
            let reading = Reading {
                sensor: "porch",
                celsius: 18.0 + f32::from(i) / 2.0,
            };
            if tx.send(reading).await.is_err() {
                break; // the client went away
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    tokio_stream_from(rx)
}

/// A receiver as a `Stream`, without pulling in `tokio-stream`.
fn tokio_stream_from<T>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl Stream<Item = T> {
    async_stream::stream! {
        while let Some(item) = rx.recv().await {
            yield item;
        }
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let server = HttpServer::new(|| App::new().service(numbers).service(readings))
        // Vanished clients noticed at once; SIGINT/SIGTERM end every stream cleanly, then stop.
        .sse_defaults()
        .bind(("127.0.0.1", 8082))?;
    println!("stream: curl -N http://127.0.0.1:8082/numbers  (or /readings)");
    server.run().await
}
