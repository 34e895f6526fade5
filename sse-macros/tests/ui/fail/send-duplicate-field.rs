use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!("hello", id = 1, id = 2);
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
