use actix_sse::prelude::*;

#[sse("/events", heartbeat = "10s", retry = "1s", heartbeat = "20s")]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
