//! The NATS publisher task: drains the bounded queue of publishes and sends each batch, then
//! one flush (a PING/PONG round trip) that confirms it, in queue order. A failed or timed-out
//! batch is counted lost with everything queued behind it; the engine counts as away until a
//! flush succeeds again on a connected client.

use super::subject;
use crate::broker::engine::{Outgoing, Shared, BATCH, RECONNECT_INTERVAL, ROUND_TRIP_TIMEOUT};
use crate::metrics::Metrics;
use async_nats::connection::State;
use async_nats::Client;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

pub(super) async fn run(
    client: Client,
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<Outgoing>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        // Away (a failed batch, or the client's Disconnected event): publishes are refused, so
        // the queue stays empty; probe until a round trip succeeds again.
        if !shared.is_connected() {
            tokio::select! {
                () = tokio::time::sleep(RECONNECT_INTERVAL) => {}
                () = shutdown.cancelled() => return,
            }
            if probe(&client).await {
                shared.set_connected(true);
                Metrics::inc(&shared.metrics.broker_reconnects);
                tracing::info!("nats is reachable again");
            }
            continue;
        }
        let n = tokio::select! {
            n = queue.recv_many(&mut batch, BATCH) => n,
            () = shutdown.cancelled() => return,
            // Wakes an idle task now and then to notice a disconnect it must probe for.
            () = tokio::time::sleep(RECONNECT_INTERVAL) => continue,
        };
        if n == 0 {
            return;
        }
        shared.dequeued(batch.iter().map(|item| item.payload.len()).sum());
        let items = std::mem::take(&mut batch);
        let sent = timeout(ROUND_TRIP_TIMEOUT, send(&client, items)).await;
        let failure = match sent {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err),
            Err(_) => Some("no reply in time".to_owned()),
        };
        if let Some(reason) = failure {
            shared.lose(&mut queue, n, &reason);
        }
    }
}

async fn send(client: &Client, items: Vec<Outgoing>) -> Result<(), String> {
    for item in items {
        let payload = item.payload.into();
        let published = client.publish(subject(&item.channel), payload).await;
        published.map_err(|e| e.to_string())?;
    }
    client.flush().await.map_err(|e| e.to_string())
}

/// Whether the client is connected and the server answers a round trip in time.
async fn probe(client: &Client) -> bool {
    client.connection_state() == State::Connected
        && matches!(
            timeout(ROUND_TRIP_TIMEOUT, client.flush()).await,
            Ok(Ok(()))
        )
}
