//! `crate = ".."` with only the attribute imported from the renamed crate, in a module and
//! in a function body.
#![deny(warnings)]

extern crate actix_sse as renamed_sse;

use actix_web::App;
use renamed_sse::sse;

mod actix_sse {}

#[sse("/one", crate = "renamed_sse")]
async fn one() {
    send!("one");
    close!();
}

mod nested {
    use renamed_sse::{send, sse};

    #[sse("/two", crate = "renamed_sse")]
    pub async fn two() {
        send!("two");
        renamed_sse::close!();
    }
}

fn routes() -> impl actix_web::dev::HttpServiceFactory {
    #[sse("/local", crate = "renamed_sse")]
    async fn local() {
        send!("local");
    }
    local
}

pub fn main() {
    let _app = App::new()
        .service(one)
        .service(nested::two)
        .service(routes());
}
