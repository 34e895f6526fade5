use actix_sse::prelude::*;

#[derive(serde::Serialize)]
struct Customer {
    id: u32,
}

#[sse("/events")]
async fn events() {
    send!(Customer { id: 0 });
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
