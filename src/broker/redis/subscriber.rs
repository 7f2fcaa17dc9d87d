//! The subscriber task: one Redis pub/sub connection per node. It keeps Redis subscribed to
//! exactly the channels the node wants (diffing on every change, all of them again after a
//! reconnect) and hands each frame from another node to the local workers without waiting.

use super::{Shared, CHANNEL_PREFIX, NODE_ID_BYTES, RECONNECT_INTERVAL, ROUND_TRIP_TIMEOUT};
use ::redis::aio::PubSubSink;
use ::redis::{Client, Msg};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::atomic::Ordering::{Relaxed, Release};
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
        shared.subscribed.store(true, Release);
        let (mut sink, mut stream) = pubsub.split();
        let mut active = HashSet::new();
        loop {
            if let Err(reason) = reconcile(&shared, &mut sink, &mut active).await {
                tracing::warn!("redis subscribe failed ({reason}); reconnecting");
                break;
            }
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => deliver(&shared, &message),
                    None => {
                        tracing::warn!("redis subscriber connection lost; reconnecting");
                        break;
                    }
                },
                () = shared.changed.notified() => {}
                () = shutdown.cancelled() => return,
            }
        }
        shared.subscribed.store(false, Release);
    }
}

/// Subscribes what is wanted and not active, unsubscribes what is active and no longer
/// wanted, then publishes the version that is now applied.
async fn reconcile(
    shared: &Shared,
    sink: &mut PubSubSink,
    active: &mut HashSet<Arc<str>>,
) -> Result<(), String> {
    let (add, remove, version) = {
        let wanted = super::lock(&shared.wanted);
        let add: Vec<Arc<str>> = wanted.channels.difference(active).cloned().collect();
        let remove: Vec<Arc<str>> = active.difference(&wanted.channels).cloned().collect();
        (add, remove, wanted.version)
    };
    if !add.is_empty() {
        let names: Vec<String> = add.iter().map(|c| format!("{CHANNEL_PREFIX}{c}")).collect();
        round_trip(sink.subscribe(names)).await?;
        active.extend(add);
    }
    if !remove.is_empty() {
        let names: Vec<String> = remove
            .iter()
            .map(|c| format!("{CHANNEL_PREFIX}{c}"))
            .collect();
        round_trip(sink.unsubscribe(names)).await?;
        for channel in &remove {
            active.remove(channel);
        }
    }
    shared.applied.send_if_modified(|applied| {
        let newer = version > *applied;
        *applied = (*applied).max(version);
        newer
    });
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

/// Hands a frame from another node to this node's workers; a frame this node published itself
/// was delivered locally already. Never waits: full worker inboxes drop it (counted).
fn deliver(shared: &Shared, message: &Msg) {
    let Some(channel) = message.get_channel_name().strip_prefix(CHANNEL_PREFIX) else {
        return;
    };
    let payload = message.get_payload_bytes();
    if payload.len() < NODE_ID_BYTES || payload[..NODE_ID_BYTES] == shared.node {
        return;
    }
    let Ok(text) = std::str::from_utf8(&payload[NODE_ID_BYTES..]) else {
        return;
    };
    let frame = crate::protocol::encode::Frame::from(text.to_owned());
    let dropped = shared.local.offer(&Arc::from(channel), &frame);
    if dropped > 0 {
        shared
            .metrics
            .broker_remote_drops
            .fetch_add(dropped, Relaxed);
    }
}
