use actix_sse::prelude::*;

const PATH: &str = "/events";

#[sse(PATH)]
async fn events() {
    send!("hello");
}

fn main() {
    let _ = PATH;
    let _ = actix_web::App::new().route("/events", actix_web::web::get().to(events));
}
