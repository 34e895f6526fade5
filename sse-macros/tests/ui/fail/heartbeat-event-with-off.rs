use actix_sse::prelude::*;

#[sse("/events", heartbeat = "off", heartbeat_event = Event::data("ping"))]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
