//! `send` and `close` imported by name: the expansion uses the user's imports, so none of
//! them is reported as unused. In a module with two handlers and in a function body.
#![deny(warnings)]

use actix_sse::{close, send, sse};
use actix_web::App;

#[sse("/one")]
async fn one() {
    send!("one");
}

#[sse("/two")]
async fn two() {
    close!();
}

fn routes() -> impl actix_web::dev::HttpServiceFactory {
    use actix_sse::{close, send, sse};

    #[sse("/local")]
    async fn local() {
        send!("local");
        close!()
    }
    local
}

pub fn main() {
    let _app = App::new().service(one).service(two).service(routes());
}
