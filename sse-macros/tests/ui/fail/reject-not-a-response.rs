use actix_sse::prelude::*;

struct NotAResponse;

#[sse("/events")]
async fn events() {
    reject!(NotAResponse);
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
