//! `crate = ".."` for a renamed dependency: nothing names `::actix_sse`.
#![deny(warnings)]

extern crate actix_sse as renamed_sse;

use actix_web::{web, App};
use renamed_sse::{send, sse, Event, Stream};

mod actix_sse {}

#[sse("/events", crate = "renamed_sse", heartbeat = "1s", heartbeat_event = Event::data("hb"))]
async fn events() {
    send!("hello", id = 1);
}

#[sse(crate = "renamed_sse", serialize = json)]
async fn json() -> impl Stream<Item = u32> {
    futures_util::stream::iter(vec![1u32])
}

pub fn main() {
    let _app = App::new()
        .service(events)
        .route("/json", web::get().to(json));
}
