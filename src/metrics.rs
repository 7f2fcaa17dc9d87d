//! Process-wide counters, shown by `/health` and `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Plugin calls made by this process (every gateway in it): plugin instances are built by hook
/// factories that know no gateway, so these two counters are process-wide.
pub static PLUGIN_CALLS: AtomicU64 = AtomicU64::new(0);
/// Plugin calls that trapped, ran past their deadline or hit a limit; each discarded the
/// instance, which the next call replaces.
pub static PLUGIN_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Counters updated by every worker. Relaxed atomics: each is an independent tally, read only
/// for reporting, so no ordering between them is needed.
#[derive(Default, Debug)]
pub struct Metrics {
    /// Sockets that completed the WebSocket upgrade and are still open.
    pub sockets_open: AtomicU64,
    /// WebSocket sockets opened (upgraded) since start.
    pub sockets_total: AtomicU64,
    /// TCP connections refused because `max_connections` was reached.
    pub connections_refused: AtomicU64,
    /// TCP connections refused by `max_connections_per_ip` or `accept_rate_per_ip`.
    pub connections_refused_per_ip: AtomicU64,
    /// Inbound WebSocket messages.
    pub messages_in: AtomicU64,
    /// Messages published (by clients and by the server).
    pub publishes: AtomicU64,
    /// Frames queued to sockets for channel deliveries and server transmits.
    pub deliveries: AtomicU64,
    /// Sockets closed by the `disconnect` slow-consumer policy.
    pub slow_consumer_disconnects: AtomicU64,
    /// Frames dropped by the `drop-newest` slow-consumer policy.
    pub slow_consumer_drops: AtomicU64,
    /// Sockets closed because they were among the largest holders when `max_buffered_bytes`
    /// was reached.
    pub buffer_evictions: AtomicU64,
    /// Publishes refused toward the distributed engine (away, or its queue full): the
    /// publisher got an error; subscribers on this node still got the message.
    pub broker_publish_errors: AtomicU64,
    /// Publishes queued for the engine and not confirmed when its connection failed or stalled:
    /// lost, or (after a stall) possibly still delivered once. Never delivered twice.
    pub broker_publish_lost: AtomicU64,
    /// Frames from the engine not handed to a worker whose inbox was full.
    pub broker_remote_drops: AtomicU64,
    /// Times a connection to the engine was (re)established after a failure.
    pub broker_reconnects: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Every counter as `(name, value)`, for reports.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("sockets_open", self.sockets_open.load(Relaxed)),
            ("sockets_total", self.sockets_total.load(Relaxed)),
            (
                "connections_refused",
                self.connections_refused.load(Relaxed),
            ),
            (
                "connections_refused_per_ip",
                self.connections_refused_per_ip.load(Relaxed),
            ),
            ("messages_in", self.messages_in.load(Relaxed)),
            ("publishes", self.publishes.load(Relaxed)),
            ("deliveries", self.deliveries.load(Relaxed)),
            (
                "slow_consumer_disconnects",
                self.slow_consumer_disconnects.load(Relaxed),
            ),
            (
                "slow_consumer_drops",
                self.slow_consumer_drops.load(Relaxed),
            ),
            ("buffer_evictions", self.buffer_evictions.load(Relaxed)),
            (
                "broker_publish_errors",
                self.broker_publish_errors.load(Relaxed),
            ),
            (
                "broker_publish_lost",
                self.broker_publish_lost.load(Relaxed),
            ),
            (
                "broker_remote_drops",
                self.broker_remote_drops.load(Relaxed),
            ),
            ("broker_reconnects", self.broker_reconnects.load(Relaxed)),
            ("plugin_calls", PLUGIN_CALLS.load(Relaxed)),
            ("plugin_failures", PLUGIN_FAILURES.load(Relaxed)),
        ]
    }
}
