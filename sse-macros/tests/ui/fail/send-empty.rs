use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!();
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
