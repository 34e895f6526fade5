//! Job progress: `POST /jobs` starts a job, a background task that publishes its progress
//! into a `tokio::sync::watch` channel; `GET /jobs/{id}/progress` streams that progress to
//! the client until the job is done.
//!
//! ```text
//! cargo run --example jobs     # serves on 127.0.0.1:8087 (PORT to change)
//! curl -X POST http://127.0.0.1:8087/jobs                # prints the job's id, say 1
//! curl -N http://127.0.0.1:8087/jobs/1/progress          # data: {"percent":10} .. event: done
//! curl -i http://127.0.0.1:8087/jobs/1/progress          # once done: 204 No Content
//! curl -i http://127.0.0.1:8087/jobs/99/progress         # no such job: 404
//! ```
//!
//! A `watch` channel holds only the latest value, which is what progress is: a client that
//! connects late, or a slow one, gets the current percentage, not every step. Each event's
//! id is its percentage, so a browser that reconnects sends it back as `Last-Event-ID` and
//! gets only progress beyond it. The last event is named `done`; after it, the job answers
//! `204 No Content`, which tells an `EventSource` to stop reconnecting.
//!
//! ```js
//! const es = new EventSource("/jobs/1/progress");
//! es.onmessage = (e) => bar.value = JSON.parse(e.data).percent;
//! es.addEventListener("done", () => es.close());
//! ```
//!
//! Finished jobs stay in the registry so that their clients get `204`, not `404`; a real
//! application would forget them after a while.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

use actix_sse::prelude::*;
use actix_web::{http::header, web, App, HttpResponse, HttpServer};
use serde::Serialize;
use tokio::sync::watch;

/// How far a job is; what the stream sends, as JSON.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Progress {
    /// 0 to 100.
    pub percent: u8,
}

/// Every job's progress by id, running or finished: `web::Data<Jobs>` in the app.
pub struct Jobs {
    next_id: AtomicU64,
    progress: Mutex<HashMap<u64, watch::Receiver<Progress>>>,
    /// How long each tenth of a job takes.
    step: Duration,
}

impl Jobs {
    /// No jobs yet; each job started by `POST /jobs` advances by 10 % every `step`.
    pub fn new(step: Duration) -> Self {
        Self {
            next_id: AtomicU64::new(1),
            progress: Mutex::default(),
            step,
        }
    }

    /// Registers a job at 0 %: its id, and the sender that whoever does the work publishes
    /// its progress into. Dropping the sender before 100 % ends the job unfinished.
    pub fn create(&self) -> (u64, watch::Sender<Progress>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(Progress { percent: 0 });
        self.progress.lock().unwrap().insert(id, rx);
        (id, tx)
    }

    /// The job's progress, or `None` for a job that never was.
    pub fn watch(&self, id: u64) -> Option<watch::Receiver<Progress>> {
        self.progress.lock().unwrap().get(&id).cloned()
    }
}

/// The work: 10 % per `step`, published as it goes. The task holds the sender, so the
/// channel closes when the task ends, whether the job got to 100 % or not.
async fn work(progress: watch::Sender<Progress>, step: Duration) {
    for percent in (10..=100).step_by(10) {
        tokio::time::sleep(step).await;
        progress.send_replace(Progress { percent });
    }
}

/// A job that will publish nothing more: done, or its task is gone.
fn finished(progress: &watch::Receiver<Progress>) -> bool {
    progress.borrow().percent == 100 || progress.has_changed().is_err()
}

/// Starts a job; answers `201 Created` with its id, and its stream's URL in `Location`.
async fn start(jobs: web::Data<Jobs>) -> HttpResponse {
    let (id, progress) = jobs.create();
    actix_web::rt::spawn(work(progress, jobs.step));
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/jobs/{id}/progress")))
        .body(id.to_string())
}

/// The job's progress as it changes (ids are percentages), then a `done` event.
#[sse("/jobs/{id}/progress", serialize = json, retry = "1s")]
async fn job_progress(
    id: web::Path<u64>,
    jobs: web::Data<Jobs>,
    last: LastEventId<u8>,
) -> Result<(), SendError> {
    let Some(mut progress) = jobs.watch(*id) else {
        reject!(HttpResponse::NotFound().body("no such job"));
    };
    if finished(&progress) {
        reject!(HttpResponse::NoContent()); // nothing more will come: stop reconnecting
    }
    // A reconnecting client has seen up to its `Last-Event-ID`; a new one, nothing.
    let mut seen = *last;
    loop {
        let now = *progress.borrow_and_update();
        if now.percent == 100 {
            send!(now, event = "done", id = now.percent)?;
            return Ok(());
        }
        // Not sent to this client yet (`None`, a new client, is below every `Some`).
        if seen < Some(now.percent) {
            send!(now, id = now.percent)?;
            seen = Some(now.percent);
        }
        if progress.changed().await.is_err() {
            // The task ended short of 100 %: end the stream; the client's reconnect is
            // answered `204`.
            return Ok(());
        }
    }
}

/// The routes; the registry comes from `web::Data<Jobs>` in the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs", web::post().to(start))
        .service(job_progress);
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8087);
    let jobs = web::Data::new(Jobs::new(Duration::from_millis(500)));
    let server = HttpServer::new(move || App::new().app_data(jobs.clone()).configure(configure))
        // Vanished clients noticed at once; SIGINT/SIGTERM end every stream cleanly, then stop.
        .sse_defaults()
        .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("jobs: curl -X POST http://{addr}/jobs, then curl -N http://{addr}/jobs/1/progress (Ctrl-C to stop)");
    }
    server.run().await
}
