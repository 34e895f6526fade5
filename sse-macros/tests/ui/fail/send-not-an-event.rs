use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!(42u32);
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
