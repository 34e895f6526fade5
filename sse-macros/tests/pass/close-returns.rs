//! `close!()` ends the handler like `return`, and has `return`'s type: it fits in `if`/`else`
//! and `match` arms, as a value of any type, and in a handler returning `Result<(), E>`.
#![deny(warnings)]
// `loop { close!() }` is the point: it ends at once.
#![allow(clippy::never_loop)]

use actix_sse::{prelude::*, SendError};
use actix_web::{web, App};

#[sse("/events")]
async fn events(session: SseSession) {
    send!("a");
    if session.is_closed() {
        close!()
    } else {
        send!("b");
    }
    match session.is_closed() {
        true => close!(),
        false => {
            close!();
        }
    }
}

#[sse]
async fn values(session: SseSession) {
    let n: u32 = if session.is_closed() { close!() } else { 1 };
    send!(n.to_string());
    loop {
        send!("once");
        close!();
    }
}

#[sse("/fallible")]
async fn fallible(session: SseSession) -> Result<(), SendError> {
    send!("a")?;
    if session.is_closed() {
        close!();
    }
    send!("b")?;
    close!()
}

#[sse("/actix")]
async fn actix() -> actix_web::Result<()> {
    send!("a")?;
    close!();
}

pub fn main() {
    let _app = App::new()
        .service(events)
        .service(fallible)
        .service(actix)
        .route("/values", web::get().to(values));
}
