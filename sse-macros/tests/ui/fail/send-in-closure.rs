use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    let items = vec!["a", "b"];
    items.iter().for_each(|item| {
        send!(*item);
    });
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
