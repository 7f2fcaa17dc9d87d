//! The Redis subscriber task: one pub/sub connection per node. It keeps Redis subscribed to
//! exactly the channels the node wants (diffing on every change, all of them again after a
//! reconnect) and hands each frame from another node to the local workers without waiting
//! (the redis crate queues incoming messages without bound, so this reader must never stall).

use super::CHANNEL_PREFIX;
use crate::broker::engine::{Shared, RECONNECT_INTERVAL, ROUND_TRIP_TIMEOUT};
use ::redis::aio::PubSubSink;
use ::redis::Client;
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

pub(super) async fn run(client: Client, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                () = tokio::time::sleep(RECONNECT_INTERVAL) => {}
                () = shutdown.cancelled() => return,
            }
        }
        let pubsub = match timeout(ROUND_TRIP_TIMEOUT, client.get_async_pubsub()).await {
            Ok(Ok(pubsub)) => pubsub,
            _ => {
                first = false;
                continue;
            }
        };
        if !first {
            crate::metrics::Metrics::inc(&shared.metrics.broker_reconnects);
            tracing::info!("redis subscriber connection is back; subscribing again");
        }
        first = false;
        shared.set_subscribed(true);
        let (mut sink, mut stream) = pubsub.split();
        let mut active = HashSet::new();
        loop {
            if let Err(reason) = reconcile(&shared, &mut sink, &mut active).await {
                tracing::warn!("redis subscribe failed ({reason}); reconnecting");
                break;
            }
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => {
                        if let Some(channel) = message.get_channel_name().strip_prefix(CHANNEL_PREFIX) {
                            shared.deliver(channel, message.get_payload_bytes());
                        }
                    }
                    None => {
                        tracing::warn!("redis subscriber connection lost; reconnecting");
                        break;
                    }
                },
                () = shared.changed.notified() => {}
                () = shutdown.cancelled() => return,
            }
        }
        shared.set_subscribed(false);
    }
}

/// Subscribes what is wanted and not active, unsubscribes what is active and no longer
/// wanted, then records the version that is now applied.
async fn reconcile(
    shared: &Shared,
    sink: &mut PubSubSink,
    active: &mut HashSet<Arc<str>>,
) -> Result<(), String> {
    let (add, remove, version) = shared.diff(active);
    let names = |channels: &[Arc<str>]| -> Vec<String> {
        channels
            .iter()
            .map(|c| format!("{CHANNEL_PREFIX}{c}"))
            .collect()
    };
    if !add.is_empty() {
        round_trip(sink.subscribe(names(&add))).await?;
        active.extend(add);
    }
    if !remove.is_empty() {
        round_trip(sink.unsubscribe(names(&remove))).await?;
        for channel in &remove {
            active.remove(channel);
        }
    }
    shared.applied(version);
    Ok(())
}

async fn round_trip(
    call: impl std::future::Future<Output = ::redis::RedisResult<()>>,
) -> Result<(), String> {
    match timeout(ROUND_TRIP_TIMEOUT, call).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("no reply in time".into()),
    }
}
