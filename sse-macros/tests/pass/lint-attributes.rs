//! Lint attributes on the handler reach every item generated from it: a handler named in
//! `CamelCase` with `#[allow(non_snake_case)]` (or `#[expect]`) is warning-free in both route
//! shapes, whichever side of `#[sse]` the attribute is on.
#![deny(warnings)]

use actix_sse::prelude::*;
use actix_web::{web, App};

#[allow(non_snake_case)]
#[sse("/events")]
async fn Events() {
    send!("hello");
}

#[sse]
#[allow(non_snake_case)]
async fn Feed() {
    send!("hello");
}

#[sse("/expected")]
#[expect(non_snake_case)]
async fn Expected() {
    send!("hello");
}

#[sse]
#[expect(non_snake_case)]
async fn ExpectedFeed() {
    send!("hello");
}

/// Other attributes land on the function holding the body, with the user's own name and
/// parameters.
#[sse("/rooms/{room}")]
#[must_use]
#[inline]
#[allow(clippy::needless_pass_by_value)]
async fn room(room: web::Path<String>) {
    send!(room.into_inner());
}

pub fn main() {
    let _app = App::new()
        .service(Events)
        .service(Expected)
        .service(room)
        .route("/feed", web::get().to(Feed))
        .route("/expected-feed", web::get().to(ExpectedFeed));
}
