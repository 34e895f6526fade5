//! `name`, `guard` (repeatable), `wrap`, visibility and docs carried over, `heartbeat = "off"`.
#![deny(warnings)]

use actix_sse::prelude::*;
use actix_web::{guard::GuardContext, middleware::Logger, App};

fn is_local(ctx: &GuardContext<'_>) -> bool {
    ctx.head().uri.host().is_none()
}

fn always(_: &GuardContext<'_>) -> bool {
    true
}

mod api {
    use actix_sse::prelude::*;

    /// The public feed.
    #[sse("/api/feed", name = "api-feed", heartbeat = "off")]
    pub async fn feed() {
        send!("feed");
    }
}

#[sse(
    "/events/{room}",
    name = "room_events",
    guard = "is_local",
    guard = "always",
    wrap = "Logger::default()",
    heartbeat = "250ms",
    heartbeat_event = "ping",
    retry = "2s"
)]
async fn room(room: actix_web::web::Path<String>) {
    send!(room.into_inner());
}

pub fn main() {
    let _app = App::new().service(api::feed).service(room);
}
