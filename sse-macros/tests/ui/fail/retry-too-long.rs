use actix_sse::prelude::*;

// `retry: <ms>` must fit in a `u64` of milliseconds.
#[sse("/events", retry = "18446744073709552s")]
async fn events() {
    send!("hello", retry = "99999999999999999999ms");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
