//! The everyday handler compiles without a single warning: `send!(x);` as a statement,
//! a path, a plain handler, extractors.
#![deny(warnings)]

use actix_sse::prelude::*;
use actix_web::{web, App, HttpRequest};

#[sse("/events")]
async fn events() {
    send!("hello");
    send!(String::from("world"));
    send!(Event::data("x").event("e"));
    close!();
}

#[sse(heartbeat = "1s")]
async fn feed(name: web::Path<String>, req: HttpRequest, last: LastEventId, session: SseSession) {
    send!(
        format!("{} {} {:?}", name, req.path(), last.as_deref()),
        event = "hi",
        id = 1
    );
    if session.is_closed() {
        return;
    }
    send!("x", retry = "3s", comment = "c");
}

pub fn main() {
    let _app = App::new()
        .service(events)
        .route("/feed/{name}", web::get().to(feed));
}
