use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    async fn helper() {
        send!("hello");
    }
    helper().await;
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
