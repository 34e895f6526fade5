use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    yield Event::data("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
