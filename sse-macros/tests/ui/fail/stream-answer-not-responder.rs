use actix_sse::prelude::*;

struct NotAnAnswer;

// The `Err` of a stream-style handler is its answer: an error or a response.
#[sse("/events")]
async fn events() -> Result<impl Stream<Item = Event>, NotAnAnswer> {
    if true {
        return Err(NotAnAnswer);
    }
    Ok(async_stream::stream! {
        yield Event::data("hello");
    })
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
