use actix_sse::prelude::*;

async fn events() {
    close!();
}

fn main() {
    let _ = events;
}
