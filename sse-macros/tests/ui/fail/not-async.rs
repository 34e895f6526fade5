use actix_sse::prelude::*;

#[sse("/events")]
fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
