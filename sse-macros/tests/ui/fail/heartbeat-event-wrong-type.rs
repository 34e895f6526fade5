use actix_sse::prelude::*;

#[sse("/events", heartbeat = "1s", heartbeat_event = 42)]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
