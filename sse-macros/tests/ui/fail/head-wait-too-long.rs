use actix_sse::prelude::*;

// A head that waits minutes is a hung request to clients and proxies.
#[sse("/events", head_wait = "2m")]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
