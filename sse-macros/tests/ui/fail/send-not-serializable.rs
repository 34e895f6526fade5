use actix_sse::prelude::*;

struct Customer {
    id: u32,
}

#[sse("/events", serialize = json)]
async fn events() {
    send!(Customer { id: 0 });
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
