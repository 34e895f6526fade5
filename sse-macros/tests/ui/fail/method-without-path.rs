use actix_sse::prelude::*;

#[sse(method = "post")]
async fn feed() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().route("/feed", actix_web::web::post().to(feed));
}
