use actix_sse::prelude::*;

struct Feeds;

impl Feeds {
    #[sse("/feed")]
    async fn feed(&self) {
        send!("hello");
    }
}

fn main() {
    let _ = actix_web::App::new().service(Feeds::feed);
}
