//! Publishing: every publish of an instance goes through one task, which sends the publishes
//! that waited while its previous call was on its way as one call of the publish script
//! (`publish.lua`). Most of a script's cost in Redis is per call and per command, so under
//! load one call carries many events, each topic's as one history entry and one Pub/Sub
//! message; and a lone publish still goes at once (no timer, no delay).
//!
//! The script hands out one run of positions per call, in the order of the batch, with the
//! events of one topic together and the topics notified in that order: Pub/Sub keeps the
//! order of `PUBLISH`es, so a subscriber of several topics still gets positions in order.
//!
//! A batch is one atomic step in Redis: its events are all published or none is. A
//! publish whose caller gave up (its future dropped) before its batch left is not sent.

use std::sync::{atomic::Ordering::SeqCst, Arc};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::{fresh_epoch, parse_epoch, BackendError, Shared, RESPONSE_TIMEOUT};
use crate::channels::id::EventId;

/// Most events in one call of the script.
const MAX_EVENTS: usize = 64;
/// Most bytes of events in one call; a bigger event goes alone.
const MAX_BYTES: usize = 256 * 1024;
/// Most publishes waiting for their call; a publisher beyond them waits for room.
const WAITING: usize = 1024;

/// One publish waiting for its call.
pub(super) struct Job {
    topic: Box<str>,
    /// The encoded event, without an id (the script adds it).
    event: Bytes,
    done: oneshot::Sender<Result<EventId, BackendError>>,
}

impl Job {
    /// A publish of `event` to `topic`, and where its id (or error) arrives.
    pub(super) fn new(
        topic: &str,
        event: Bytes,
    ) -> (Self, oneshot::Receiver<Result<EventId, BackendError>>) {
        let (done, answer) = oneshot::channel();
        let job = Self {
            topic: topic.into(),
            event,
            done,
        };
        (job, answer)
    }
}

/// Starts the publishing task; it ends when the sender is dropped.
pub(super) fn spawn(shared: Arc<Shared>) -> mpsc::Sender<Job> {
    let (jobs, receiver) = mpsc::channel(WAITING);
    tokio::spawn(run(shared, receiver));
    jobs
}

async fn run(shared: Arc<Shared>, mut jobs: mpsc::Receiver<Job>) {
    let mut held = None;
    loop {
        let job = match held.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut bytes = job.event.len();
        let mut batch = vec![job];
        while batch.len() < MAX_EVENTS {
            let Ok(job) = jobs.try_recv() else { break };
            if bytes + job.event.len() > MAX_BYTES {
                held = Some(job);
                break;
            }
            bytes += job.event.len();
            batch.push(job);
        }
        batch.retain(|job| !job.done.is_closed());
        if batch.is_empty() {
            continue;
        }
        match shared.publish_batch(&mut batch).await {
            Ok((epoch, first)) => {
                for (job, seq) in batch.into_iter().zip(first..) {
                    let _ = job.done.send(Ok(EventId::new(epoch, seq)));
                }
            }
            Err((err, unreachable)) => {
                for job in batch {
                    let _ = job.done.send(Err(err.clone()));
                }
                if unreachable {
                    // Those waiting would each wait for the same unreachable Redis in turn:
                    // they fail now, and publishes after them try again.
                    for job in held
                        .take()
                        .into_iter()
                        .chain(std::iter::from_fn(|| jobs.try_recv().ok()))
                    {
                        let _ = job.done.send(Err(err.clone()));
                    }
                }
            }
        }
    }
}

impl Shared {
    /// Publishes a batch in one call of the script. The jobs are put in the order the
    /// script wants (grouped by topic); returns the epoch and the first position, which
    /// goes to the first job, the next to the second, and so on. An error says whether
    /// Redis could not be reached (the connection is gone).
    async fn publish_batch(&self, batch: &mut [Job]) -> Result<(u64, u64), (BackendError, bool)> {
        let mut conn = self.connection().await.map_err(|err| (err, true))?;
        // Each job's topic number, in the order topics first appear; then the jobs grouped
        // by it.
        let mut topics: Vec<Box<str>> = Vec::new();
        let mut numbers: Vec<usize> = Vec::with_capacity(batch.len());
        for job in batch.iter() {
            let number = match topics.iter().position(|t| *t == job.topic) {
                Some(i) => i + 1,
                None => {
                    topics.push(job.topic.clone());
                    topics.len()
                }
            };
            numbers.push(number);
        }
        if topics.len() > 1 {
            // A stable sort: one topic's events keep their order.
            batch.sort_by_key(|job| topics.iter().position(|t| *t == job.topic));
            numbers.sort_unstable();
        }

        let age = self
            .config
            .history_age
            .map_or(0, |a| a.as_millis().max(1) as u64);
        let mut invocation = self.publish.prepare_invoke();
        invocation.key(&self.keys.hub).key(&self.keys.clock);
        for topic in &topics {
            invocation
                .key(self.keys.history(topic))
                .key(self.keys.record(topic));
        }
        invocation
            .arg(fresh_epoch())
            .arg(self.config.history_events)
            .arg(age)
            .arg(self.ttl_ms())
            .arg(self.seen());
        for topic in &topics {
            invocation.arg(self.keys.channel(topic));
        }
        for number in 1..=topics.len() {
            invocation.arg(numbers.iter().filter(|&&n| n == number).count());
        }
        for job in batch.iter() {
            invocation.arg(body(&job.event));
        }
        let reply: Result<(String, u64), _> = invocation.invoke_async(&mut conn).await;
        let (epoch, first) = match reply {
            Ok(reply) => reply,
            Err(err) => {
                let unreachable = self.failed(&err).await;
                return Err((err.into(), unreachable));
            }
        };
        let epoch = parse_epoch(&epoch).ok_or_else(|| {
            (
                BackendError(format!("unexpected epoch {epoch:?} from the script")),
                false,
            )
        })?;
        let last = first + batch.len() as u64 - 1;
        self.epoch.store(epoch, SeqCst);
        self.saw(epoch, last);
        if let Some((replicas, timeout)) = self.config.replicas {
            // `WAIT` counts the replicas that hold every write of this connection so far.
            // Within the connection's response timeout, or the wait would count as a
            // broken connection.
            let timeout = timeout.min(RESPONSE_TIMEOUT - std::time::Duration::from_millis(250));
            let waited: Result<usize, _> = redis::cmd("WAIT")
                .arg(replicas)
                .arg(timeout.as_millis().max(1) as u64)
                .query_async(&mut conn)
                .await;
            match waited {
                Ok(n) if n >= replicas => {}
                Ok(n) => {
                    let ids = match batch.len() {
                        1 => EventId::new(epoch, first).to_string(),
                        _ => format!(
                            "{} to {}",
                            EventId::new(epoch, first),
                            EventId::new(epoch, last)
                        ),
                    };
                    return Err((
                        BackendError(format!(
                            "{ids} on the master but {n} of {replicas} replicas acknowledged \
                             within {timeout:?}"
                        )),
                        false,
                    ));
                }
                Err(err) => {
                    let unreachable = self.failed(&err).await;
                    return Err((err.into(), unreachable));
                }
            }
        }
        Ok((epoch, first))
    }
}

/// An encoded event without its final blank line, which the frame's id line goes before
/// (an event of a comment alone has none).
fn body(event: &[u8]) -> &[u8] {
    match event.strip_suffix(b"\n\n") {
        Some(_) => &event[..event.len() - 1],
        None => event,
    }
}
