//! Only `sse` imported: `send!` and `close!` in the body still work, whatever the user
//! imported. In a module with two handlers, in a function body, both route shapes.
#![deny(warnings)]

use actix_sse::sse;
use actix_web::{web, App};

#[sse("/one")]
async fn one() {
    send!("one");
    close!();
}

#[sse]
async fn two() {
    send!("two", event = "e");
}

mod nested {
    use actix_sse::sse;

    #[sse("/three")]
    pub async fn three() {
        send!("three");
    }

    #[sse("/four")]
    pub async fn four() {
        actix_sse::send!("four");
        ::actix_sse::close!()
    }
}

fn routes() -> impl actix_web::dev::HttpServiceFactory {
    #[sse("/local")]
    async fn local() {
        send!("local");
    }
    local
}

pub fn main() {
    let _app = App::new()
        .service(one)
        .route("/two", web::get().to(two))
        .service(nested::three)
        .service(nested::four)
        .service(routes());
}
