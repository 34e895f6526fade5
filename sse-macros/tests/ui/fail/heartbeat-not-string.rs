use actix_sse::prelude::*;

#[sse("/events", heartbeat = 10)]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
