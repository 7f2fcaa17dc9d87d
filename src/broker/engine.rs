//! What the brokers on a distributed engine (Redis, NATS) share: each node keeps the in-process
//! channel table for its own workers, wants a channel on the engine only while it has local
//! subscribers, delivers a publish to its own workers directly and hands it once to the engine
//! for the other nodes. Delivery across nodes is at-most-once.
//!
//! Faults: while the engine is away, local pub/sub keeps working and every publish answers the
//! publisher with an error at once (counted in `broker_publish_errors`); what waits for the
//! engine is one bounded queue (a full queue is an error too); publishes in flight when the
//! connection fails are counted in `broker_publish_lost`. The engine's tasks (in `redis/`,
//! `nats/`) reconnect on their own and subscribe every wanted channel again.

use super::memory::MemoryBroker;
use super::{Broker, BrokerError, BrokerFuture, Delivery};
use crate::metrics::Metrics;
use crate::protocol::encode::Frame;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};

/// Bytes of the random node id that starts every payload, so a node skips its own publishes
/// (it has delivered them locally already).
const NODE_ID_BYTES: usize = 8;
/// Publishes that may wait for the engine: about a second of a busy node's traffic. A stalled
/// engine fills it, then publishers get errors instead of memory growing.
const QUEUE_CAPACITY: usize = 8192;
/// Bytes of payload that may wait for the engine, whatever the message sizes: with 1 MB
/// messages the frame count above alone would allow gigabytes.
const QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// How long a node-first subscribe waits for the engine to confirm it, so a publish right after
/// a subscribe reply reaches the new subscriber; past it the subscribe succeeds locally and the
/// subscriber task keeps trying.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);
/// How long connecting or one round trip may take before the connection counts as failed: far
/// above a healthy round trip (well under a millisecond on a LAN), short enough that a stalled
/// engine is noticed within about a second.
pub const ROUND_TRIP_TIMEOUT: Duration = Duration::from_millis(1000);
/// Pause between reconnect attempts, so a dead engine costs one attempt per interval.
pub const RECONNECT_INTERVAL: Duration = Duration::from_millis(100);
/// Publishes sent per round trip: amortises it over a burst while keeping one batch (and what a
/// failure loses at once) small.
pub const BATCH: usize = 256;

/// One publish on its way to the engine: the scgate channel and node id + frame bytes.
pub struct Outgoing {
    pub channel: Arc<str>,
    pub payload: Vec<u8>,
}

/// The channels this node wants on the engine, with a version bumped on every change.
#[derive(Default)]
pub struct Wanted {
    channels: HashSet<Arc<str>>,
    version: u64,
}

/// State shared by the broker (called from worker threads) and the engine's tasks.
pub struct Shared {
    /// The engine's name in errors and logs (`redis`, `nats`).
    pub engine: &'static str,
    local: MemoryBroker,
    node: [u8; NODE_ID_BYTES],
    pub metrics: Arc<Metrics>,
    // Set by the publisher task, read by every publish: release/acquire so a publish that sees
    // `true` follows the connect that set it.
    connected: AtomicBool,
    // Set by the subscriber task while its connection is up; a subscribe only waits for
    // confirmation then.
    subscribed: AtomicBool,
    // Payload bytes in the publish queue: added by `publish` before queueing, subtracted by the
    // publisher task as it takes items out. Relaxed: a budget, not a synchronisation point.
    queued_bytes: AtomicUsize,
    // The largest payload the engine accepts (NATS: the server's `max_payload`); a larger one
    // is refused before it is queued, so it cannot fail a whole batch. Set once the engine is
    // reached; Relaxed: a limit read on its own.
    max_payload: AtomicUsize,
    // Held only to update or diff the set, never across an await. It also serialises the
    // "first subscriber on this node" check with the table update, so two workers subscribing
    // and unsubscribing one channel at once cannot leave it wrongly wanted or unwanted.
    wanted: Mutex<Wanted>,
    /// Woken (one stored permit) whenever `wanted` changes; the subscriber task waits on it.
    pub changed: Notify,
    // The `wanted` version the engine has confirmed; written by the subscriber task only.
    applied: watch::Sender<u64>,
}

impl Shared {
    fn wanted(&self) -> MutexGuard<'_, Wanted> {
        self.wanted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the engine reachable (publishes go out) or away (publishes fail at once).
    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Release);
    }

    /// Sets the largest payload the engine accepts.
    pub fn set_max_payload(&self, bytes: usize) {
        self.max_payload.store(bytes, Ordering::Relaxed);
    }

    /// Whether publishes go out to the engine now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Marks the subscriber connection up or down.
    pub fn set_subscribed(&self, up: bool) {
        self.subscribed.store(up, Ordering::Release);
    }

    /// Channels to subscribe (wanted, not `active`), to unsubscribe (`active`, not wanted), and
    /// the version that is applied once both are done.
    pub fn diff(&self, active: &HashSet<Arc<str>>) -> (Vec<Arc<str>>, Vec<Arc<str>>, u64) {
        let wanted = self.wanted();
        let add = wanted.channels.difference(active).cloned().collect();
        let remove = active.difference(&wanted.channels).cloned().collect();
        (add, remove, wanted.version)
    }

    /// The engine has confirmed the wanted set up to `version`.
    pub fn applied(&self, version: u64) {
        self.applied.send_if_modified(|applied| {
            let newer = version > *applied;
            *applied = (*applied).max(version);
            newer
        });
    }

    /// Payload bytes the publisher task took out of the queue.
    pub fn dequeued(&self, bytes: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The engine is away: counts the `failed` batch and everything queued behind it as lost
    /// and marks the engine away (publishers get errors at once until it is back).
    pub fn lose(&self, queue: &mut mpsc::Receiver<Outgoing>, failed: usize, why: &str) {
        self.set_connected(false);
        let mut lost = failed as u64;
        while let Ok(item) = queue.try_recv() {
            self.dequeued(item.payload.len());
            lost += 1;
        }
        (self.metrics.broker_publish_lost).fetch_add(lost, Ordering::Relaxed);
        let engine = self.engine;
        tracing::warn!("{engine} publish failed ({why}); {lost} publishes lost, reconnecting");
    }

    /// Hands a payload from the engine to this node's workers; one this node published itself
    /// was delivered locally already. Never waits: full worker inboxes drop it (counted).
    pub fn deliver(&self, channel: &str, payload: &[u8]) {
        if payload.len() < NODE_ID_BYTES || payload[..NODE_ID_BYTES] == self.node {
            return;
        }
        let Ok(text) = std::str::from_utf8(&payload[NODE_ID_BYTES..]) else {
            return;
        };
        let frame = Frame::from(text.to_owned());
        let dropped = self.local.offer(&Arc::from(channel), &frame);
        if dropped > 0 {
            (self.metrics.broker_remote_drops).fetch_add(dropped, Ordering::Relaxed);
        }
    }
}

/// The broker for a distributed engine; the engine's tasks hold the other end of its queue.
pub struct EngineBroker {
    shared: Arc<Shared>,
    // Bounded queue to the publisher task (try_send: a full queue is an error, never a wait).
    outbound: mpsc::Sender<Outgoing>,
}

/// A new broker for `engine`, its shared state, and the receiving end of its publish queue.
pub fn new(
    engine: &'static str,
    shards: usize,
    workers: usize,
    metrics: Arc<Metrics>,
) -> (EngineBroker, Arc<Shared>, mpsc::Receiver<Outgoing>) {
    let (outbound, queue) = mpsc::channel(QUEUE_CAPACITY);
    let shared = Arc::new(Shared {
        engine,
        local: MemoryBroker::new(shards, workers),
        node: rand::random(),
        metrics,
        connected: AtomicBool::new(false),
        subscribed: AtomicBool::new(false),
        queued_bytes: AtomicUsize::new(0),
        max_payload: AtomicUsize::new(usize::MAX),
        wanted: Mutex::default(),
        changed: Notify::new(),
        applied: watch::Sender::new(0),
    });
    let broker = EngineBroker {
        shared: shared.clone(),
        outbound,
    };
    (broker, shared, queue)
}

/// Starts the thread that owns an engine's connections: `connect` runs first (start-up fails
/// with its error), then `run` with what it returned, until it ends.
pub fn spawn_thread<C, CF, R, RF>(name: &str, connect: CF, run: R) -> anyhow::Result<JoinHandle<()>>
where
    CF: Future<Output = Result<C, String>> + Send + 'static,
    R: FnOnce(C) -> RF + Send + 'static,
    RF: Future<Output = ()>,
{
    // Start may be called from inside an async runtime, where blocking on another is not
    // allowed, so the first connection is made on the new thread; this one-slot std channel
    // carries its outcome back.
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name(format!("scgate-{name}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(err) => return drop(ready_tx.send(Err(err.to_string()))),
            };
            runtime.block_on(async move {
                match connect.await {
                    Ok(connection) => {
                        let _ = ready_tx.send(Ok(()));
                        run(connection).await;
                    }
                    Err(err) => drop(ready_tx.send(Err(err))),
                }
            })
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(thread),
        Ok(Err(err)) => Err(anyhow::anyhow!(err)),
        Err(_) => Err(anyhow::anyhow!("the {name} broker thread stopped")),
    }
}

impl Broker for EngineBroker {
    fn attach(&self, worker: usize, inbox: mpsc::Sender<Delivery>) {
        self.shared.local.attach(worker, inbox);
    }

    fn subscribe(&self, worker: usize, channel: Arc<str>) -> BrokerFuture<'_> {
        let version = {
            let mut wanted = self.shared.wanted();
            let first = self.shared.local.workers_of(&channel) == 0;
            // The memory broker applies the change before returning its (ready) future.
            drop(self.shared.local.subscribe(worker, channel.clone()));
            first.then(|| {
                wanted.channels.insert(channel);
                wanted.version += 1;
                wanted.version
            })
        };
        if version.is_some() {
            self.shared.changed.notify_one();
        }
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
        let mut wanted = self.shared.wanted();
        drop(self.shared.local.unsubscribe(worker, channel.clone()));
        if self.shared.local.workers_of(&channel) == 0 {
            wanted.channels.remove(&channel);
            wanted.version += 1;
            self.shared.changed.notify_one();
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn publish(&self, channel: Arc<str>, frame: Frame) -> BrokerFuture<'_> {
        Box::pin(async move {
            let payload = [&self.shared.node[..], frame.as_str().as_bytes()].concat();
            self.shared.local.publish(channel.clone(), frame).await?;
            let engine = self.shared.engine;
            let max = self.shared.max_payload.load(Ordering::Relaxed);
            if payload.len() > max {
                Metrics::inc(&self.shared.metrics.broker_publish_errors);
                return Err(BrokerError::Unavailable(format!(
                    "{engine} accepts messages up to {max} bytes (its max_payload), this one is {}; delivered on this node only",
                    payload.len()
                )));
            }
            if !self.shared.connected.load(Ordering::Acquire) {
                Metrics::inc(&self.shared.metrics.broker_publish_errors);
                return Err(BrokerError::Unavailable(format!(
                    "{engine} is unreachable; delivered on this node only"
                )));
            }
            self.enqueue(Outgoing { channel, payload }).map_err(|err| {
                if let BrokerError::Unavailable(_) = err {
                    Metrics::inc(&self.shared.metrics.broker_publish_errors);
                    return BrokerError::Unavailable(format!(
                        "{engine} is not keeping up (queue full); delivered on this node only"
                    ));
                }
                err
            })
        })
    }
}

impl EngineBroker {
    /// Queues within both bounds (frames and bytes), never waiting.
    fn enqueue(&self, outgoing: Outgoing) -> Result<(), BrokerError> {
        let bytes = outgoing.payload.len();
        let queued = self.shared.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
        let result = if queued + bytes > QUEUE_BYTES {
            Err(BrokerError::Unavailable(String::new()))
        } else {
            self.outbound.try_send(outgoing).map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => BrokerError::Unavailable(String::new()),
                mpsc::error::TrySendError::Closed(_) => BrokerError::Closed,
            })
        };
        if result.is_err() {
            self.shared.dequeued(bytes);
        }
        result
    }
}
