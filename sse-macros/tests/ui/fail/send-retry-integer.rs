use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!("x", retry = 3000);
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
