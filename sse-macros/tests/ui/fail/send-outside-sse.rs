use actix_sse::prelude::*;

async fn events() {
    send!("hello");
}

fn main() {
    let _ = events;
}
