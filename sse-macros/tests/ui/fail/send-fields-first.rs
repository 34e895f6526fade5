use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!(event = "token", "hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
