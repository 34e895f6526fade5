//! Visibility, outer attributes and both route shapes in any order: attributes before and
//! after `#[sse]` on `pub`, `pub(crate)` and `pub(super)` handlers compile warning-free.
#![deny(warnings)]

mod handlers {
    pub mod inner {
        use actix_sse::prelude::*;

        /// Documented.
        #[sse]
        #[allow(clippy::unused_async)]
        pub async fn plain() {
            send!("x");
        }

        #[doc = "Before."]
        #[sse]
        #[must_use]
        #[allow(non_snake_case)]
        pub(crate) async fn Crate() {
            send!("x");
        }

        #[allow(unused_variables)]
        #[sse]
        #[cfg(not(any()))]
        #[inline]
        pub(super) async fn sup(unused: actix_web::HttpRequest) {
            send!("x");
        }

        #[sse("/routed")]
        #[allow(unused_variables)]
        #[must_use]
        pub(crate) async fn routed(unused: actix_web::HttpRequest) {
            send!("x");
        }

        #[deprecated = "kept for old clients"]
        #[sse("/old")]
        #[expect(non_snake_case)]
        pub(super) async fn Old() {
            send!("x");
        }
    }

    /// Every handler registered, from where `pub(super)` reaches.
    #[allow(deprecated)]
    pub(crate) fn register() {
        use actix_web::web;
        let _app = actix_web::App::new()
            .route("/plain", web::get().to(inner::plain))
            .route("/crate", web::get().to(inner::Crate))
            .route("/sup", web::get().to(inner::sup))
            .service(inner::routed)
            .service(inner::Old);
    }
}

pub fn main() {
    handlers::register();
}
