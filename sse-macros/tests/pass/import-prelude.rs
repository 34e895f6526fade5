//! `use actix_sse::prelude::*;` (a glob, like the one the expansion adds): two handlers in a
//! module, and one in a function body.
#![deny(warnings)]

use actix_sse::prelude::*;
use actix_web::App;

#[sse("/one")]
async fn one() {
    send!("one");
}

#[sse("/two")]
async fn two() {
    send!("two");
    close!();
}

fn routes() -> impl actix_web::dev::HttpServiceFactory {
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
