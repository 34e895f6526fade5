use actix_sse::prelude::*;
use futures_util::Stream;

#[sse("/events")]
async fn events() -> impl Stream<Item = u32> {
    futures_util::stream::iter(vec![1u32, 2, 3])
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
