use actix_sse::prelude::*;

#[sse(heartbeat = "1s", "/events")]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().route("/events", actix_web::web::get().to(events));
}
