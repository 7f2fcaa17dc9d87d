//! The publisher task: drains the bounded queue of publishes and sends each batch to Redis as
//! one pipeline (one round trip), in queue order. On a failed or timed-out round trip it counts
//! the batch and everything still queued as lost (unconfirmed: after a stall Redis may still
//! run a few of them once; never twice), marks the engine away (publishers then get
//! errors at once) and reconnects.

use super::{Outgoing, Shared, RECONNECT_INTERVAL, ROUND_TRIP_TIMEOUT};
use crate::metrics::Metrics;
use ::redis::aio::MultiplexedConnection;
use ::redis::Client;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Publishes sent per pipeline: amortises a round trip over a burst while keeping one batch
/// (and what a failure loses at once) small.
const BATCH: usize = 256;

/// Opens the connection that publishes, within [`ROUND_TRIP_TIMEOUT`].
pub(super) async fn connect(client: &Client) -> Result<MultiplexedConnection, String> {
    match timeout(
        ROUND_TRIP_TIMEOUT,
        client.get_multiplexed_async_connection(),
    )
    .await
    {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

pub(super) async fn run(
    client: Client,
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<Outgoing>,
    first: MultiplexedConnection,
    shutdown: CancellationToken,
) {
    let mut connection = Some(first);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let Some(live) = connection.as_mut() else {
            connection = reconnect(&client, &shared, &shutdown).await;
            if connection.is_none() {
                return;
            }
            continue;
        };
        let n = tokio::select! {
            n = queue.recv_many(&mut batch, BATCH) => n,
            () = shutdown.cancelled() => return,
        };
        if n == 0 {
            return;
        }
        let mut pipe = ::redis::pipe();
        let bytes: usize = batch.iter().map(|item| item.payload.len()).sum();
        shared.queued_bytes.fetch_sub(bytes, Relaxed);
        for item in batch.drain(..) {
            pipe.cmd("PUBLISH")
                .arg(item.channel)
                .arg(item.payload)
                .ignore();
        }
        let sent = timeout(ROUND_TRIP_TIMEOUT, pipe.query_async::<()>(live)).await;
        if let Some(reason) = failure(sent) {
            shared.connected.store(false, Release);
            let mut lost = n as u64;
            while let Ok(item) = queue.try_recv() {
                shared.queued_bytes.fetch_sub(item.payload.len(), Relaxed);
                lost += 1;
            }
            shared.metrics.broker_publish_lost.fetch_add(lost, Relaxed);
            tracing::warn!("redis publish failed ({reason}); {lost} publishes lost, reconnecting");
            connection = None;
        }
    }
}

fn failure(sent: Result<::redis::RedisResult<()>, tokio::time::error::Elapsed>) -> Option<String> {
    match sent {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(err.to_string()),
        Err(_) => Some("no reply in time".into()),
    }
}

/// Tries until connected (then marks the engine reachable) or shut down (`None`).
async fn reconnect(
    client: &Client,
    shared: &Shared,
    shutdown: &CancellationToken,
) -> Option<MultiplexedConnection> {
    loop {
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_INTERVAL) => {}
            () = shutdown.cancelled() => return None,
        }
        if let Ok(connection) = connect(client).await {
            shared.connected.store(true, Release);
            Metrics::inc(&shared.metrics.broker_reconnects);
            tracing::info!("redis publisher connection is back");
            return Some(connection);
        }
    }
}
