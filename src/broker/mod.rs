//! Brokers: the channel data shared by workers (SocketCluster's broker processes). A broker knows
//! which workers have subscribers on each channel and carries each published frame to them.
//! The in-process [`memory::MemoryBroker`] is the default; [`engine::EngineBroker`] implements the
//! same [`Broker`] trait on Redis (`--broker redis://…`, [`self::redis`]) or NATS (`--broker
//! nats://…`, [`self::nats`]) so several nodes act as one.

pub mod engine;
pub mod memory;
pub mod nats;
pub mod redis;

use crate::protocol::encode::Frame;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A published message on its way to one worker: the channel and the encoded `#publish` frame,
/// shared by every worker and socket that receives it.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The channel it was published on.
    pub channel: Arc<str>,
    /// The encoded `{"event":"#publish",…}` frame.
    pub frame: Frame,
}

/// Why a broker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker is shutting down or its worker inbox is gone.
    #[error("the broker is closed")]
    Closed,
    /// A distributed engine could not be reached.
    #[error("the broker engine is unavailable: {0}")]
    Unavailable(String),
}

/// The future a broker operation returns.
pub type BrokerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), BrokerError>> + Send + 'a>>;

/// The channel table shared by all workers of a node.
///
/// Ordering contract: a broker applies one worker's `subscribe`/`unsubscribe` calls in the order
/// they are made, and delivers the frames one caller publishes on one channel in that order.
pub trait Broker: Send + Sync + 'static {
    /// Connects worker `worker` to the broker; its inbox receives the deliveries for every
    /// channel it subscribes. Called once per worker before any traffic.
    fn attach(&self, worker: usize, inbox: mpsc::Sender<Delivery>);

    /// The worker has its first local subscriber on `channel`.
    fn subscribe(&self, worker: usize, channel: Arc<str>) -> BrokerFuture<'_>;

    /// The worker's last local subscriber on `channel` has left.
    fn unsubscribe(&self, worker: usize, channel: Arc<str>) -> BrokerFuture<'_>;

    /// Delivers `frame` to every worker subscribed to `channel`. Resolves once the frame is
    /// queued for each of them (waiting while a worker's inbox is full: backpressure).
    fn publish(&self, channel: Arc<str>, frame: Frame) -> BrokerFuture<'_>;
}
