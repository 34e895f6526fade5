use actix_sse::prelude::*;

// A stream-style handler answers when it returns: there is no head to hold back.
#[sse("/events", head_wait = "5s")]
async fn events() -> impl Stream<Item = Event> {
    async_stream::stream! {
        yield Event::data("hello");
    }
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
