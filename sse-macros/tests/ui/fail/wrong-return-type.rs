use actix_sse::prelude::*;

#[sse("/events")]
async fn events() -> u32 {
    send!("hello");
    42
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
