//! Browsers allow about 6 HTTP/1.1 connections per host, so a 7th `EventSource` (a 7th
//! tab) stalls silently; HTTP/2 multiplexes them over one connection. Proven in headless
//! Chromium against a real actix-web server over TLS (a self-signed certificate made here,
//! ALPN `h2`): one page opens 8 streams and every one receives its event, each request
//! served as HTTP/2. The control: the same page over plain HTTP/1.1 gets only 6.
//!
//! Needs what `tests/it/browser.rs` needs; without it, it fails saying what to install.

use crate::common;

use actix_sse::prelude::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use openssl::{
    asn1::Asn1Time,
    hash::MessageDigest,
    pkey::PKey,
    rsa::Rsa,
    ssl::{SslAcceptor, SslAcceptorBuilder, SslMethod},
    x509::{extension::SubjectAlternativeName, X509NameBuilder, X509},
};

const TABS: usize = 8;

/// Says which tab it is and which HTTP version carried it, then stays open.
#[sse("/tab/{n}", heartbeat = "1s")]
async fn tab(n: web::Path<usize>, req: HttpRequest) {
    send!(format!("{} {:?}", n.into_inner(), req.version()));
    std::future::pending::<()>().await;
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html><meta charset=utf-8><title>tabs</title><link rel=icon href=data:,>")
}

fn app() -> App<impl common::AppFactory> {
    App::new().route("/", web::get().to(page)).service(tab)
}

/// A TLS acceptor with a fresh self-signed certificate for 127.0.0.1.
fn tls() -> SslAcceptorBuilder {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "127.0.0.1").unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&cert.x509v3_context(None, None))
        .unwrap();
    cert.append_extension(san).unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    let mut tls = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    tls.set_private_key(&key).unwrap();
    tls.set_certificate(&cert.build()).unwrap();
    tls
}

fn received(report: &serde_json::Value) -> Vec<String> {
    report["got"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect()
}

#[actix_web::test]
async fn browser_eight_event_sources_on_one_host_all_stream_over_http2_with_tls() {
    common::browser::require();
    let server = HttpServer::new(app)
        .workers(1)
        .sse_defaults()
        .bind_openssl(("127.0.0.1", 0), tls())
        .unwrap();
    let tls_addr = server.addrs()[0];
    let server = server.run();
    let tls_handle = server.handle();
    actix_web::rt::spawn(server);
    let (plain_addr, _plain) = serve!(app, |s: HttpServer<_, _, _, _>| s.sse_defaults());

    let h2 = common::browser::run(
        60,
        "h2.mjs",
        vec![format!("https://{tls_addr}/"), TABS.to_string()],
    )
    .await;
    eprintln!("over TLS: {h2}");
    assert_eq!(h2["protocol"], "h2", "{h2}");
    let mut got = received(&h2);
    got.sort();
    let mut want: Vec<String> = (0..TABS).map(|i| format!("{i} HTTP/2.0")).collect();
    want.sort();
    assert_eq!(got, want, "every stream received its event, over HTTP/2");

    let h1 = common::browser::run(
        60,
        "h2.mjs",
        vec![format!("http://{plain_addr}/"), TABS.to_string()],
    )
    .await;
    eprintln!("plain HTTP/1.1: {h1}");
    assert_eq!(h1["protocol"], "http/1.1", "{h1}");
    let got = received(&h1);
    assert!(
        got.len() == 6 && got.iter().all(|g| g.ends_with("HTTP/1.1")),
        "the control should stall past 6 streams: {h1}"
    );
    tls_handle.stop(false).await;
}
