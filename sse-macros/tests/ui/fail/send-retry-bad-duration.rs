use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!("hello", retry = "3 seconds");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
