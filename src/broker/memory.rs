//! The in-process broker: the channel table split into shards by a stable hash of the channel
//! name, each shard mapping a channel to the set of workers with subscribers on it.

use super::{Broker, BrokerError, BrokerFuture, Delivery};
use crate::protocol::encode::Frame;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;

/// Most workers one node runs: the worker set of a channel is one `u64` bit mask.
pub const MAX_WORKERS: usize = 64;

/// One shard: channel name → bit mask of the workers subscribed to it.
type Shard = Mutex<HashMap<Arc<str>, u64>>;

/// The default broker: shards of the channel table in this process.
pub struct MemoryBroker {
    // Each shard's std Mutex is held only for a map lookup or update, never across an await,
    // so contention between workers is a few nanoseconds per publish.
    shards: Box<[Shard]>,
    // Set once per worker by `attach` before traffic, then only read: no lock on the hot path.
    inboxes: Box<[OnceLock<mpsc::Sender<Delivery>>]>,
}

impl MemoryBroker {
    /// A broker with `shards` shards serving up to `workers` workers.
    pub fn new(shards: usize, workers: usize) -> Self {
        assert!(workers <= MAX_WORKERS, "at most {MAX_WORKERS} workers");
        MemoryBroker {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
            inboxes: (0..workers).map(|_| OnceLock::new()).collect(),
        }
    }

    fn shard(&self, channel: &str) -> &Shard {
        &self.shards[shard_index(channel, self.shards.len())]
    }

    /// The workers currently subscribed to `channel`.
    pub fn workers_of(&self, channel: &str) -> u64 {
        let shard = self
            .shard(channel)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        shard.get(channel).copied().unwrap_or(0)
    }
}

impl MemoryBroker {
    /// The attached inboxes of the workers whose bits are set in `mask`, lowest first.
    fn inboxes_of(&self, mut mask: u64) -> impl Iterator<Item = &mpsc::Sender<Delivery>> + '_ {
        std::iter::from_fn(move || {
            while mask != 0 {
                let worker = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if let Some(inbox) = self.inboxes.get(worker).and_then(OnceLock::get) {
                    return Some(inbox);
                }
            }
            None
        })
    }

    /// Queues `frame` for every worker subscribed to `channel` without waiting; returns how
    /// many workers' inboxes were full (those workers miss it). Used for frames that arrive
    /// from a distributed engine, whose reader must never stall.
    pub fn offer(&self, channel: &Arc<str>, frame: &Frame) -> u64 {
        let mut dropped = 0;
        for inbox in self.inboxes_of(self.workers_of(channel)) {
            let delivery = Delivery {
                channel: channel.clone(),
                frame: frame.clone(),
            };
            if inbox.try_send(delivery).is_err() {
                dropped += 1;
            }
        }
        dropped
    }
}

/// FNV-1a: stable across runs and processes, so a channel always lands on the same shard.
pub fn shard_index(channel: &str, shards: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in channel.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % shards as u64) as usize
}

impl Broker for MemoryBroker {
    fn attach(&self, worker: usize, inbox: mpsc::Sender<Delivery>) {
        if let Some(slot) = self.inboxes.get(worker) {
            let _ = slot.set(inbox);
        }
    }

    fn subscribe(&self, worker: usize, channel: Arc<str>) -> BrokerFuture<'_> {
        // Done before the future is returned, so calls apply in call order.
        let mut shard = self
            .shard(&channel)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *shard.entry(channel).or_insert(0) |= 1 << worker;
        Box::pin(std::future::ready(Ok(())))
    }

    fn unsubscribe(&self, worker: usize, channel: Arc<str>) -> BrokerFuture<'_> {
        let mut shard = self
            .shard(&channel)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(mask) = shard.get_mut(&channel) {
            *mask &= !(1 << worker);
            if *mask == 0 {
                shard.remove(&channel);
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn publish(&self, channel: Arc<str>, frame: Frame) -> BrokerFuture<'_> {
        let mask = self.workers_of(&channel);
        Box::pin(async move {
            for inbox in self.inboxes_of(mask) {
                let delivery = Delivery {
                    channel: channel.clone(),
                    frame: frame.clone(),
                };
                inbox
                    .send(delivery)
                    .await
                    .map_err(|_| BrokerError::Closed)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_index_is_stable_and_in_range() {
        assert_eq!(shard_index("pong", 8), shard_index("pong", 8));
        assert!((0..1000).all(|i| shard_index(&format!("ch{i}"), 7) < 7));
    }

    #[tokio::test]
    async fn publish_reaches_only_subscribed_workers_until_they_leave() {
        let broker = MemoryBroker::new(4, 3);
        let (tx0, mut rx0) = mpsc::channel(8);
        let (tx1, mut rx1) = mpsc::channel(8);
        broker.attach(0, tx0);
        broker.attach(1, tx1);
        let ch: Arc<str> = "news".into();
        broker.subscribe(1, ch.clone()).await.unwrap();
        broker.publish(ch.clone(), "f1".into()).await.unwrap();
        assert_eq!(rx1.recv().await.unwrap().frame.as_str(), "f1");
        assert!(rx0.try_recv().is_err());
        broker.unsubscribe(1, ch.clone()).await.unwrap();
        broker.publish(ch, "f2".into()).await.unwrap();
        assert!(rx1.try_recv().is_err());
    }
}
