use actix_sse::prelude::*;

#[sse("/events", heartbeat = "0ms")]
async fn events() {
    send!("hello");
}

// Below the 10 ms floor.
#[sse("/fast", heartbeat = "9999us")]
async fn fast() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events).service(fast);
}
