use actix_sse::prelude::*;

#[sse("/events", serialize = |v: &u32| v.to_string())]
async fn events() {
    send!(1u32);
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
