//! Code after `close!()` is unreachable, as after `return`.
#![deny(unreachable_code)]

use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!("a");
    close!();
    send!("b");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
