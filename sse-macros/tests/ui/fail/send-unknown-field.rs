use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!("hello", evnt = "greeting");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
