use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    reject!();
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
