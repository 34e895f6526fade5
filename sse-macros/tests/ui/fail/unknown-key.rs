use actix_sse::prelude::*;

#[sse("/events", hearbeat = "10s")]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
