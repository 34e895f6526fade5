use actix_sse::prelude::*;

#[sse("/events")]
struct Events;

fn main() {
    let _ = Events;
}
