use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    let later = async {
        send!("hello");
    };
    later.await;
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
