//! `tokio::select!` keeps its token rewrite (its arms may use `send!`), but an `async` block
//! in it is still an `async` block.
use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    tokio::select! {
        _ = async { send!("early"); } => {}
        _ = std::future::ready(()) => { send!("ok"); }
    }
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
