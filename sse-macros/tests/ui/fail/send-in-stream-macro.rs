//! The body of `async_stream::stream!` is an async block too (of the stream it builds).
use actix_sse::prelude::*;
use futures_util::StreamExt;

#[sse("/events")]
async fn events() {
    let mut numbers = Box::pin(async_stream::stream! {
        send!("from the stream");
        yield 1;
    });
    while let Some(n) = numbers.next().await {
        send!(format!("{n}"));
    }
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
