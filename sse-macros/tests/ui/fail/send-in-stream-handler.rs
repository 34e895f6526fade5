use actix_sse::prelude::*;
use futures_util::Stream;

#[sse("/events")]
async fn events() -> impl Stream<Item = Event> {
    async_stream::stream! {
        send!(Event::data("x"));
        yield Event::data("y");
    }
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
