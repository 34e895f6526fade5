use actix_sse::prelude::*;

struct Point {
    x: i32,
    y: i32,
}

fn to_data(p: &Point) -> String {
    format!("{},{}", p.x, p.y)
}

#[sse("/events", serialize = to_data)]
async fn events() {
    send!("not a point");
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
