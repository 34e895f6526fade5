//! Through a real reverse proxy: nginx (default `proxy_buffering on`, HTTP/1.0 to the
//! upstream) set up as many sites are, with gzip for `text/event-stream`. nginx's gzip
//! filter skips a response that already has a `Content-Encoding`, so ours
//! (`Content-Encoding: identity`, `X-Accel-Buffering: no`) passes event by event,
//! uncompressed. A control route that streams the same bytes without those headers is
//! compressed and held back by nginx, so the test would fail without them.
//!
//! Needs `nginx` (`.ci/run` installs it). Skipped locally without it; fails under CI.

use crate::common;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use actix_sse::Sse;
use actix_web::{web, App, HttpResponse, Responder};
use bytes::Bytes;
use common::{events, within};
use futures_util::StreamExt;
use tokio::sync::Notify;

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// nginx as a child process with its own prefix directory; killed on drop.
struct Nginx {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_nginx(binary: PathBuf, upstream: std::net::SocketAddr) -> Nginx {
    let dir = std::env::temp_dir().join(format!("actix-sse-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    // A free loopback port for nginx (it cannot report one it picked itself).
    let port = common::free_port();
    let d = dir.0.display();
    let conf = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         gzip on;\n  gzip_types text/event-stream;\n  gzip_min_length 0;\n  server {{\n    listen 127.0.0.1:{port};\n    \
         location / {{ proxy_pass http://{upstream}; }}\n  }}\n}}\n"
    );
    std::fs::write(dir.0.join("nginx.conf"), conf).unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(&dir.0)
        .arg("-c")
        .arg(dir.0.join("nginx.conf"))
        .args(["-g", "daemon off; master_process off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let nginx = Nginx {
        child,
        port,
        _dir: dir,
    };
    within(10, "nginx to listen", async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    nginx
}

/// `first`, then waits for the gate, then `second`: as an SSE stream…
async fn gated_sse(gate: web::Data<Notify>) -> impl Responder {
    Sse::from_fn(move |tx| async move {
        tx.send("first").await?;
        gate.notified().await;
        tx.send("second").await
    })
}

/// …and the same bytes from a plain streaming response without our headers.
async fn gated_plain(gate: web::Data<Notify>) -> HttpResponse {
    let body = async_stream::stream! {
        yield Ok::<_, std::convert::Infallible>(Bytes::from_static(b"data: first\n\n"));
        gate.notified().await;
        yield Ok(Bytes::from_static(b"data: second\n\n"));
    };
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(body)
}

#[actix_web::test]
async fn nginx_events_pass_through_with_gzip_one_by_one() {
    let binary = nginx_binary();
    common::require(
        "nginx_",
        binary
            .is_none()
            .then(|| "nginx (`apt-get install -y nginx`)".to_owned()),
    );
    let binary = binary.unwrap();
    let gate = web::Data::new(Notify::new());
    let g = gate.clone();
    let (upstream, _srv) = serve!(move || App::new()
        .app_data(g.clone())
        .route("/sse", web::get().to(gated_sse))
        .route("/plain", web::get().to(gated_plain)));
    let nginx = start_nginx(binary, upstream).await;
    let base = format!("http://127.0.0.1:{}", nginx.port);

    let gzip: &[(&str, &[u8])] = &[("accept-encoding", b"gzip")];

    // Ours: the first event comes through, uncompressed, while the handler is parked.
    let (status, headers, mut evs) = events(&format!("{base}/sse"), gzip).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-encoding").unwrap(), "identity");
    assert_eq!(
        within(5, "first event through nginx", evs.next())
            .await
            .map(|e| e.data),
        Some("first".to_owned())
    );
    gate.notify_one();
    assert_eq!(
        within(5, "second event through nginx", evs.next())
            .await
            .map(|e| e.data),
        Some("second".to_owned())
    );
    assert_eq!(within(5, "end", evs.next()).await, None);

    // Control: the same stream without our headers is gzipped and held back by nginx:
    // not even the head arrives while the upstream has sent only its first event.
    let mut control = Box::pin(
        awc::Client::new()
            .get(format!("{base}/plain"))
            .insert_header(("accept-encoding", "gzip"))
            .send(),
    );
    let early = tokio::time::timeout(Duration::from_millis(500), &mut control).await;
    assert!(early.is_err(), "nginx passed the control route on at once");
    gate.notify_one();
    let mut resp = within(5, "control head", control).await.unwrap();
    assert_eq!(resp.headers().get("content-encoding").unwrap(), "gzip");
    let body = within(5, "control body", resp.body()).await.unwrap();
    assert!(
        !body.is_empty() && !body.starts_with(b"data:"),
        "compressed"
    );
}
