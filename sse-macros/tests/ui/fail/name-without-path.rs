use actix_sse::prelude::*;

#[sse(name = "feed")]
async fn feed() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().route("/feed", actix_web::web::get().to(feed));
}
