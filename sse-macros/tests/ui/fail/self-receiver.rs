use actix_sse::prelude::*;

struct Feeds;

impl Feeds {
    #[sse]
    async fn feed(&self) {
        send!("hello");
    }
}

fn main() {
    let _ = actix_web::web::get().to(Feeds::feed);
}
