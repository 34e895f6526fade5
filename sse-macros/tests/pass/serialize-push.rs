//! `serialize = json` and `serialize = path::to::fn` in push handlers, with fields.
#![deny(warnings)]

use actix_sse::prelude::*;
use actix_web::App;

#[derive(serde::Serialize)]
struct Customer {
    id: u32,
    first_name: String,
}

#[derive(serde::Serialize)]
struct Product {
    id: u32,
    prices: Vec<u32>,
}

#[sse("/json", serialize = json)]
async fn json() {
    send!(Customer {
        id: 0,
        first_name: "Jet".into()
    });
    send!(
        Product {
            id: 0,
            prices: vec![100, 200]
        },
        event = "product",
        id = 7
    );
    let c = Customer {
        id: 1,
        first_name: "Ada".into(),
    };
    send!(c);
    send!(&[1, 2, 3][..]);
}

mod fmt {
    pub fn csv(p: &super::Product) -> String {
        p.prices
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn fallible(p: &super::Product) -> Result<String, std::fmt::Error> {
        Ok(p.id.to_string())
    }
}

#[sse("/csv", serialize = fmt::csv)]
async fn csv() {
    send!(
        Product {
            id: 0,
            prices: vec![1, 2]
        },
        retry = "1s",
        comment = "prices"
    );
}

#[sse("/ids", serialize = self::fmt::fallible)]
async fn ids() {
    send!(Product {
        id: 3,
        prices: vec![]
    });
}

pub fn main() {
    let _app = App::new().service(json).service(csv).service(ids);
}
