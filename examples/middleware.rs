//! SSE routes behind `Compress` and `Logger`: the stream is neither compressed nor
//! buffered (the response says `Content-Encoding: identity`), and the access log line is
//! written when the stream ends.
//!
//! ```text
//! RUST_LOG=info cargo run --example middleware
//! curl -N --compressed http://127.0.0.1:8083/ticks
//! ```

use std::time::Duration;

use actix_sse::prelude::*;
use actix_web::{
    middleware::{Compress, Logger},
    App, HttpServer,
};

#[sse("/ticks", heartbeat = "5s")]
async fn ticks() {
    for i in 1..=5 {
        send!(format!("tick {i}"), id = i);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init_from_env(env_logger::Env::new().default_filter_or("info"));
    let server = HttpServer::new(|| {
        App::new()
            .wrap(Compress::default())
            .wrap(Logger::default())
            .service(ticks)
    })
    // Vanished clients noticed at once; SIGINT/SIGTERM end every stream cleanly, then stop.
    .sse_defaults()
    .bind(("127.0.0.1", 8083))?;
    println!("middleware: curl -N --compressed http://127.0.0.1:8083/ticks");
    server.run().await
}
