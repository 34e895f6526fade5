use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    send!("bye");
    close!("done");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
