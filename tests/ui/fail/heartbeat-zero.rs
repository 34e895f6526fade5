use actix_sse::prelude::*;

#[sse("/events", heartbeat = "0ms")]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
