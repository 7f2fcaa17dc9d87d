//! The NATS subscriber task: one subscription per channel the node wants, each read by its own
//! task that hands frames from other nodes to the local workers without waiting. async-nats
//! re-subscribes them after a reconnect; a flush confirms each change to the server.

use super::{channel_of, subject};
use crate::broker::engine::{Shared, RECONNECT_INTERVAL, ROUND_TRIP_TIMEOUT};
use async_nats::Client;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::task::AbortHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

pub(super) async fn run(client: Client, shared: Arc<Shared>, shutdown: CancellationToken) {
    // Channel → the task reading its subscription; aborting it drops the subscription, which
    // unsubscribes.
    let mut readers: HashMap<Arc<str>, AbortHandle> = HashMap::new();
    let mut active: HashSet<Arc<str>> = HashSet::new();
    loop {
        let (add, remove, version) = shared.diff(&active);
        let mut complete = true;
        for channel in add {
            match client.subscribe(subject(&channel)).await {
                Ok(mut subscription) => {
                    let shared = shared.clone();
                    let reader = tokio::spawn(async move {
                        while let Some(message) = subscription.next().await {
                            if let Some(channel) = channel_of(message.subject.as_str()) {
                                shared.deliver(&channel, &message.payload);
                            }
                        }
                    });
                    readers.insert(channel.clone(), reader.abort_handle());
                    active.insert(channel);
                }
                Err(err) => {
                    tracing::warn!("nats subscribe failed ({err}); retrying");
                    complete = false;
                }
            }
        }
        for channel in remove {
            if let Some(reader) = readers.remove(&channel) {
                reader.abort();
            }
            active.remove(&channel);
        }
        let flushed = matches!(
            timeout(ROUND_TRIP_TIMEOUT, client.flush()).await,
            Ok(Ok(()))
        );
        if complete && flushed {
            shared.applied(version);
        }
        let retry = !(complete && flushed);
        tokio::select! {
            () = shared.changed.notified() => {}
            () = tokio::time::sleep(RECONNECT_INTERVAL), if retry => {}
            () = shutdown.cancelled() => break,
        }
    }
    for reader in readers.values() {
        reader.abort();
    }
}
