//! Where a hub's Redis is: one address (`redis://..`), or the master that Redis Sentinel
//! names (`redis+sentinel://host1:port1,host2:port2/mymaster`), asked again at every
//! connection so that a failover is followed.
//!
//! With Sentinel, a hub also listens for the sentinels' announcement of a failover
//! (`+switch-master`, see [`Target::watch`]) and moves to the new master at once. Without
//! it, a hub would find out only when the old master refuses a write or drops its
//! connections, which Sentinel does when it next looks at that server (up to 10 s later):
//! until then the old master would acknowledge writes that its demotion then discards.

use std::{pin::Pin, time::Duration};

use futures_core::Stream;

use super::{BackendError, CONNECT_TIMEOUT, MAX_BACKOFF, RESPONSE_TIMEOUT};

/// The URL scheme of a master found through sentinels.
const SENTINEL_SCHEME: &str = "redis+sentinel://";

pub(super) enum Target {
    /// One server.
    Direct(redis::Client),
    /// The master that the sentinels name.
    Sentinel {
        sentinels: Vec<redis::Client>,
        master: String,
        db: i64,
    },
}

impl Target {
    /// `redis://..` (any URL redis-rs takes), or
    /// `redis+sentinel://host1:port1,host2:port2/{master name}[/{db}]`.
    pub(super) fn parse(url: &str) -> Result<Self, BackendError> {
        let Some(rest) = url.strip_prefix(SENTINEL_SCHEME) else {
            return Ok(Target::Direct(redis::Client::open(url)?));
        };
        let invalid = |why: &str| {
            BackendError(format!(
                "invalid Sentinel URL {url:?}: {why}; expected \
                 `redis+sentinel://host1:port1,host2:port2/mymaster`"
            ))
        };
        let (hosts, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("no master name"))?;
        let mut path = path.trim_end_matches('/').split('/');
        let master = path
            .next()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| invalid("no master name"))?
            .to_owned();
        let db = match path.next() {
            None => 0,
            Some(db) => db
                .parse()
                .map_err(|_| invalid("the database is not a number"))?,
        };
        let sentinels = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| redis::Client::open(format!("redis://{h}/")).map_err(BackendError::from))
            .collect::<Result<Vec<_>, _>>()?;
        if sentinels.is_empty() {
            return Err(invalid("no sentinel address"));
        }
        Ok(Target::Sentinel {
            sentinels,
            master,
            db,
        })
    }

    /// A client for the server to use now: the one address, or the current master.
    pub(super) async fn client(&self) -> Result<redis::Client, BackendError> {
        match self {
            Target::Direct(client) => Ok(client.clone()),
            Target::Sentinel {
                sentinels,
                master,
                db,
            } => {
                let mut why = String::from("no sentinel answered");
                for sentinel in sentinels {
                    match master_of(sentinel, master, *db).await {
                        Ok(client) => return Ok(client),
                        Err(err) => why = err.0,
                    }
                }
                Err(BackendError(format!("Sentinel, master {master:?}: {why}")))
            }
        }
    }
}

impl Target {
    /// With Sentinel: listens to the sentinels (in turn, reconnecting with a pause) for a
    /// failover of the master, and calls `switched` at each. Returns at once for one address.
    pub(super) async fn watch(&self, mut switched: impl FnMut()) {
        let Target::Sentinel {
            sentinels, master, ..
        } = self
        else {
            return;
        };
        let mut pause = Duration::from_millis(50);
        loop {
            for sentinel in sentinels {
                let subscribed = async {
                    let mut pubsub = sentinel.get_async_pubsub().await?;
                    pubsub.subscribe("+switch-master").await?;
                    Ok::<_, redis::RedisError>(pubsub)
                };
                let Ok(Ok(pubsub)) = tokio::time::timeout(CONNECT_TIMEOUT, subscribed).await else {
                    continue;
                };
                pause = Duration::from_millis(50);
                let mut messages = pubsub.into_on_message();
                // "{name} {old ip} {old port} {new ip} {new port}"
                while let Some(message) =
                    std::future::poll_fn(|cx| Pin::new(&mut messages).poll_next(cx)).await
                {
                    let payload = message.get_payload_bytes();
                    if payload.split(|&b| b == b' ').next() == Some(master.as_bytes()) {
                        log::warn!(target: "actix_sse", "redis: Sentinel failover of {master:?}; moving to the new master");
                        switched();
                    }
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }
}

fn config() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
}

/// The master `sentinel` names, if it answers and that server says it is the master (a
/// demoted one may still be reachable, and a sentinel may lag behind a failover).
async fn master_of(
    sentinel: &redis::Client,
    name: &str,
    db: i64,
) -> Result<redis::Client, BackendError> {
    let mut conn = sentinel
        .get_multiplexed_async_connection_with_config(&config())
        .await?;
    let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(name)
        .query_async(&mut conn)
        .await?;
    let (host, port) = addr.ok_or_else(|| BackendError(format!("unknown master {name:?}")))?;
    let client = redis::Client::open(format!("redis://{host}:{port}/{db}"))?;
    let mut server = client
        .get_multiplexed_async_connection_with_config(&config())
        .await?;
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut server).await?;
    match role.first() {
        Some(redis::Value::BulkString(role)) if role == b"master" => Ok(client),
        _ => Err(BackendError(format!("{host}:{port} is not a master (yet)"))),
    }
}
