//! Worker threads, SocketCluster's worker processes: each has its own single-threaded runtime,
//! its own sockets, its own channel table and its own instance of the application hooks.

pub(crate) mod channels;
mod dispatch;

use crate::auth::Signer;
use crate::broker::{Broker, Delivery};
use crate::config::Settings;
use crate::connection::budget::BufferBudget;
use crate::connection::outbox::Outbox;
use crate::gateway::{Control, Gateway};
use crate::hooks::{Hooks, HooksFactory};
use crate::metrics::Metrics;
use crate::server::ConnectionPermit;
use channels::ChannelTable;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Deliveries a worker's inbox holds before publishers wait: enough to absorb a burst while the
/// worker is busy, small enough that a stalled worker slows publishers instead of eating memory.
pub(crate) const INBOX_CAPACITY: usize = 4096;
/// Socket commands (transmit, kick-out, disconnect) a worker holds before senders wait.
pub(crate) const CONTROL_CAPACITY: usize = 1024;
/// Accepted connections waiting for a worker to pick them up; the acceptor waits beyond it.
pub(crate) const ACCEPT_CAPACITY: usize = 256;

/// A TCP connection handed to a worker, with the permit that counts it against
/// `max_connections` and `max_connections_per_ip`.
pub(crate) type Accepted = (std::net::TcpStream, ConnectionPermit);

/// Everything a worker's tasks share. Lives on the worker's thread only (`Rc`).
pub(crate) struct WorkerCtx {
    pub index: usize,
    pub settings: Arc<Settings>,
    pub broker: Arc<dyn Broker>,
    pub gateway: Gateway,
    pub hooks: Rc<dyn Hooks>,
    pub metrics: Arc<Metrics>,
    pub signer: Arc<Signer>,
    /// The process-wide budget of buffered bytes, shared by every worker's sockets.
    pub budget: Arc<BufferBudget>,
    pub channels: RefCell<ChannelTable>,
    pub sockets: RefCell<HashMap<u64, Rc<Outbox>>>,
    next_key: Cell<u64>,
    /// Cancelled on shutdown: every connection closes with 1001.
    pub shutdown: CancellationToken,
    /// Tracks every connection task so shutdown can wait for them to drain.
    pub tasks: TaskTracker,
}

impl WorkerCtx {
    /// A fresh local key for a new socket.
    pub(crate) fn next_key(&self) -> u64 {
        let key = self.next_key.get() + 1;
        self.next_key.set(key);
        key
    }
}

/// What a worker thread needs to start.
pub(crate) struct WorkerSpec {
    pub index: usize,
    pub settings: Arc<Settings>,
    pub broker: Arc<dyn Broker>,
    pub gateway: Gateway,
    pub hooks: HooksFactory,
    pub metrics: Arc<Metrics>,
    pub signer: Arc<Signer>,
    pub budget: Arc<BufferBudget>,
    pub shutdown: CancellationToken,
    pub accepted: mpsc::Receiver<Accepted>,
    pub deliveries: mpsc::Receiver<Delivery>,
    pub controls: mpsc::Receiver<(u64, Control)>,
}

/// Starts a worker thread; it returns once shutdown has drained its sockets.
pub(crate) fn spawn(spec: WorkerSpec) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("scgate-worker-{}", spec.index))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    tracing::error!(worker = spec.index, "cannot start worker runtime: {err}");
                    spec.shutdown.cancel();
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, run(spec));
        })
}

async fn run(spec: WorkerSpec) {
    let WorkerSpec {
        mut accepted,
        deliveries,
        controls,
        ..
    } = spec;
    let ctx = Rc::new(WorkerCtx {
        index: spec.index,
        hooks: (spec.hooks)(spec.index),
        settings: spec.settings,
        broker: spec.broker,
        gateway: spec.gateway,
        metrics: spec.metrics,
        signer: spec.signer,
        budget: spec.budget,
        channels: RefCell::default(),
        sockets: RefCell::default(),
        next_key: Cell::new(0),
        shutdown: spec.shutdown,
        tasks: TaskTracker::new(),
    });
    let dispatcher = tokio::task::spawn_local(dispatch::run(ctx.clone(), deliveries, controls));
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            next = accepted.recv() => match next {
                Some((stream, permit)) => start_connection(&ctx, stream, permit),
                None => break,
            },
        }
    }
    ctx.tasks.close();
    let grace = Duration::from_millis(ctx.settings.shutdown_grace_ms);
    if tokio::time::timeout(grace, ctx.tasks.wait()).await.is_err() {
        tracing::warn!(
            worker = ctx.index,
            "sockets still open after the shutdown grace period"
        );
    }
    dispatcher.abort();
}

fn start_connection(ctx: &Rc<WorkerCtx>, stream: std::net::TcpStream, permit: ConnectionPermit) {
    let stream = match TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(err) => {
            tracing::debug!("cannot register accepted socket: {err}");
            return;
        }
    };
    // Frames are small and latency matters more than packet count; a socket's task batches its writes itself.
    let _ = stream.set_nodelay(true);
    let task = crate::http::serve_connection(ctx.clone(), stream, permit);
    tokio::task::spawn_local(ctx.tasks.track_future(task));
}
