//! The Redis broker: several scgate nodes act as one through Redis pub/sub. Each node keeps the
//! in-process channel table for its own workers, subscribes a channel on Redis only while it has
//! local subscribers, delivers a publish to its own workers directly, and sends it once to Redis
//! for the other nodes. Delivery across nodes is at-most-once.
//!
//! Faults: while Redis is away, local pub/sub keeps working and every publish answers the
//! publisher with an error at once (counted in `broker_publish_errors`); what waits for Redis is
//! one bounded queue (a full queue is an error too); frames in flight when the connection fails
//! are counted in `broker_publish_lost`. Both connections reconnect on their own, and the
//! subscriber connection subscribes every wanted channel again.

pub mod kv;
mod publisher;
mod subscriber;

use super::memory::MemoryBroker;
use super::{Broker, BrokerError, BrokerFuture, Delivery};
use crate::metrics::Metrics;
use crate::protocol::encode::Frame;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

/// Prefix of every Redis channel scgate uses, so other users of the same Redis are not
/// disturbed; `sc:ch:news` carries the scgate channel `news`.
pub const CHANNEL_PREFIX: &str = "sc:ch:";
/// Bytes of the random node id that starts every payload, so a node skips its own publishes
/// (it has delivered them locally already).
const NODE_ID_BYTES: usize = 8;
/// Publishes that may wait for Redis: about a second of a busy node's traffic. A stalled Redis
/// fills it, then publishers get errors instead of memory growing.
const QUEUE_CAPACITY: usize = 8192;
/// Bytes of payload that may wait for Redis, whatever the message sizes: with 1 MB messages the
/// frame count above alone would allow gigabytes.
const QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// How long a node-first subscribe waits for Redis to confirm it, so a publish right after a
/// subscribe reply reaches the new subscriber; past it the subscribe succeeds locally and the
/// subscriber task keeps trying.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);
/// How long connecting or one round trip may take before the connection counts as failed: far
/// above a healthy round trip (well under a millisecond on a LAN), short enough that a stalled
/// Redis is noticed within about a second.
pub(crate) const ROUND_TRIP_TIMEOUT: Duration = Duration::from_millis(1000);
/// Pause between reconnect attempts, so a dead Redis costs one attempt per interval.
const RECONNECT_INTERVAL: Duration = Duration::from_millis(100);

/// One publish on its way to Redis.
struct Outgoing {
    channel: String,
    payload: Vec<u8>,
}

/// The channels this node wants on Redis, with a version bumped on every change.
#[derive(Default)]
struct Wanted {
    channels: HashSet<Arc<str>>,
    version: u64,
}

/// State shared by the broker (called from worker threads) and its two connection tasks.
struct Shared {
    local: MemoryBroker,
    node: [u8; NODE_ID_BYTES],
    metrics: Arc<Metrics>,
    // Set by the publisher task, read by every publish: release/acquire so a publish that sees
    // `true` follows the connect that set it.
    connected: AtomicBool,
    // Set by the subscriber task while its connection is up; a subscribe only waits for
    // confirmation then.
    subscribed: AtomicBool,
    // Held only to update or diff the set, never across an await. It also serialises the
    // "first subscriber on this node" check with the table update, so two workers subscribing
    // and unsubscribing one channel at once cannot leave it wrongly wanted or unwanted.
    wanted: Mutex<Wanted>,
    // Payload bytes in the publish queue: added by `publish` before queueing, subtracted by the
    // publisher task as it takes items out. Relaxed: a budget, not a synchronisation point.
    queued_bytes: AtomicUsize,
    // Woken (one stored permit) whenever `wanted` changes; the subscriber task waits on it.
    changed: Notify,
    // The `wanted` version Redis has confirmed; written by the subscriber task only.
    applied: watch::Sender<u64>,
}

/// The broker for `--broker redis://…`.
pub struct RedisBroker {
    shared: Arc<Shared>,
    // Bounded queue to the publisher task (try_send: a full queue is an error, never a wait).
    outbound: mpsc::Sender<Outgoing>,
}

impl RedisBroker {
    /// Connects to Redis at `url` (failing if it cannot be reached now) and starts the thread
    /// that owns both connections; the thread stops when `shutdown` is cancelled.
    pub fn start(
        url: &str,
        shards: usize,
        workers: usize,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(Arc<Self>, JoinHandle<()>)> {
        let client = ::redis::Client::open(url)?;
        let (outbound, queue) = mpsc::channel(QUEUE_CAPACITY);
        let shared = Arc::new(Shared {
            local: MemoryBroker::new(shards, workers),
            node: rand::random(),
            metrics,
            connected: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            queued_bytes: AtomicUsize::new(0),
            wanted: Mutex::default(),
            changed: Notify::new(),
            applied: watch::Sender::new(0),
        });
        // The first connection is made on the broker thread (start may be called from inside
        // an async runtime, where blocking on another is not allowed); this one-slot std
        // channel carries its outcome back.
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let task_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("scgate-redis".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(err) => return drop(ready_tx.send(Err(err.to_string()))),
                };
                runtime.block_on(async move {
                    let first = match publisher::connect(&client).await {
                        Ok(first) => first,
                        Err(err) => return drop(ready_tx.send(Err(err))),
                    };
                    task_shared.connected.store(true, Ordering::Release);
                    let _ = ready_tx.send(Ok(()));
                    let sub =
                        subscriber::run(client.clone(), task_shared.clone(), shutdown.clone());
                    let publ = publisher::run(client, task_shared, queue, first, shutdown);
                    tokio::join!(sub, publ);
                })
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => anyhow::bail!("cannot reach redis at {url}: {err}"),
            Err(_) => anyhow::bail!("cannot reach redis at {url}: the broker thread stopped"),
        }
        Ok((Arc::new(RedisBroker { shared, outbound }), thread))
    }

    /// Records a change of the wanted set and wakes the subscriber task; returns the version
    /// to wait for.
    fn want(&self, channel: Arc<str>, wanted: &mut Wanted, on: bool) -> u64 {
        if on {
            wanted.channels.insert(channel);
        } else {
            wanted.channels.remove(&channel);
        }
        wanted.version += 1;
        self.shared.changed.notify_one();
        wanted.version
    }
}

fn lock(wanted: &Mutex<Wanted>) -> std::sync::MutexGuard<'_, Wanted> {
    wanted.lock().unwrap_or_else(|p| p.into_inner())
}

impl Broker for RedisBroker {
    fn attach(&self, worker: usize, inbox: mpsc::Sender<Delivery>) {
        self.shared.local.attach(worker, inbox);
    }

    fn subscribe(&self, worker: usize, channel: Arc<str>) -> BrokerFuture<'_> {
        let version = {
            let mut wanted = lock(&self.shared.wanted);
            let first = self.shared.local.workers_of(&channel) == 0;
            // The memory broker applies the change before returning its (ready) future.
            drop(self.shared.local.subscribe(worker, channel.clone()));
            first.then(|| self.want(channel, &mut wanted, true))
        };
        Box::pin(async move {
            if let Some(version) = version {
                if self.shared.subscribed.load(Ordering::Acquire) {
                    let mut applied = self.shared.applied.subscribe();
                    let confirmed = applied.wait_for(|v| *v >= version);
                    let _ = tokio::time::timeout(SUBSCRIBE_WAIT, confirmed).await;
                }
            }
            Ok(())
        })
    }

    fn unsubscribe(&self, worker: usize, channel: Arc<str>) -> BrokerFuture<'_> {
        let mut wanted = lock(&self.shared.wanted);
        drop(self.shared.local.unsubscribe(worker, channel.clone()));
        if self.shared.local.workers_of(&channel) == 0 {
            self.want(channel, &mut wanted, false);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn publish(&self, channel: Arc<str>, frame: Frame) -> BrokerFuture<'_> {
        Box::pin(async move {
            let outgoing = Outgoing {
                channel: format!("{CHANNEL_PREFIX}{channel}"),
                payload: [&self.shared.node[..], frame.as_str().as_bytes()].concat(),
            };
            self.shared.local.publish(channel, frame).await?;
            if !self.shared.connected.load(Ordering::Acquire) {
                Metrics::inc(&self.shared.metrics.broker_publish_errors);
                return Err(BrokerError::Unavailable(
                    "redis is unreachable; delivered on this node only".into(),
                ));
            }
            let bytes = outgoing.payload.len();
            let queued = self.shared.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
            let refused = if queued + bytes > QUEUE_BYTES {
                Err(BrokerError::Unavailable(String::new()))
            } else {
                self.outbound.try_send(outgoing).map_err(|err| match err {
                    mpsc::error::TrySendError::Full(_) => BrokerError::Unavailable(String::new()),
                    mpsc::error::TrySendError::Closed(_) => BrokerError::Closed,
                })
            };
            refused.map_err(|err| {
                self.shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
                if let BrokerError::Closed = err {
                    return err;
                }
                Metrics::inc(&self.shared.metrics.broker_publish_errors);
                BrokerError::Unavailable(
                    "redis is not keeping up (queue full); delivered on this node only".into(),
                )
            })
        })
    }
}
