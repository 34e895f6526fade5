use actix_sse::prelude::*;

#[sse("/events", serialize = "json")]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
