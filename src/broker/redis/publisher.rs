//! The Redis publisher task: drains the bounded queue of publishes and sends each batch as one
//! pipeline (one round trip), in queue order. On a failed or timed-out round trip it counts the
//! batch and everything still queued as lost (unconfirmed: after a stall Redis may still run a
//! few of them once; never twice), marks the engine away (publishers then get errors at once)
//! and reconnects.

use super::CHANNEL_PREFIX;
use crate::broker::engine::{Outgoing, Shared, BATCH, RECONNECT_INTERVAL, ROUND_TRIP_TIMEOUT};
use crate::metrics::Metrics;
use ::redis::aio::MultiplexedConnection;
use ::redis::Client;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

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
        shared.dequeued(batch.iter().map(|item| item.payload.len()).sum());
        for item in batch.drain(..) {
            pipe.cmd("PUBLISH")
                .arg(format!("{CHANNEL_PREFIX}{}", item.channel))
                .arg(item.payload)
                .ignore();
        }
        let sent = timeout(ROUND_TRIP_TIMEOUT, pipe.query_async::<()>(live)).await;
        if let Some(reason) = failure(sent) {
            shared.lose(&mut queue, n, &reason);
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
            shared.set_connected(true);
            Metrics::inc(&shared.metrics.broker_reconnects);
            tracing::info!("redis publisher connection is back");
            return Some(connection);
        }
    }
}
