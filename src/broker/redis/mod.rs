//! The Redis broker (`--broker redis://…`): the shared engine broker ([`super::engine`]) with
//! one Redis connection that publishes and one that subscribes. Redis channel `sc:ch:NAME`
//! carries the scgate channel `NAME`; the plugin KV lives under `sc:kv:` ([`kv`]).

pub mod kv;
mod publisher;
mod subscriber;

use super::engine::{self, EngineBroker};
use crate::metrics::Metrics;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Prefix of every Redis channel scgate uses, so other users of the same Redis are not
/// disturbed; `sc:ch:news` carries the scgate channel `news`.
pub const CHANNEL_PREFIX: &str = "sc:ch:";

/// Connects to Redis at `url` (failing if it cannot be reached now) and starts the thread that
/// owns both connections; the thread stops when `shutdown` is cancelled.
pub fn start(
    url: &str,
    shards: usize,
    workers: usize,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<(Arc<EngineBroker>, JoinHandle<()>)> {
    let client = ::redis::Client::open(url)?;
    let (broker, shared, queue) = engine::new("redis", shards, workers, metrics);
    let first = {
        let client = client.clone();
        async move { publisher::connect(&client).await }
    };
    let thread = engine::spawn_thread("redis", first, move |connection| async move {
        shared.set_connected(true);
        let sub = subscriber::run(client.clone(), shared.clone(), shutdown.clone());
        let publ = publisher::run(client, shared, queue, connection, shutdown);
        tokio::join!(sub, publ);
    })
    .map_err(|e| anyhow::anyhow!("cannot reach redis at {url}: {e}"))?;
    Ok((Arc::new(broker), thread))
}
