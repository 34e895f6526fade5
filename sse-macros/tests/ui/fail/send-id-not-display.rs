use actix_sse::prelude::*;

struct Opaque;

#[sse("/events")]
async fn events() {
    send!("data", id = Opaque);
}

fn main() {}
