//! Starting and stopping a gateway: the listener, the acceptor, the worker threads, the broker,
//! and (for `scgate serve`) signal handling and graceful shutdown.

mod acceptor;
mod signals;

use crate::auth::Signer;
use crate::broker::memory::MemoryBroker;
use crate::broker::Broker;
use crate::config::{BrokerKind, Settings};
use crate::gateway::Gateway;
use crate::hooks::HooksFactory;
use crate::metrics::Metrics;
use crate::worker::{self, WorkerSpec, ACCEPT_CAPACITY, CONTROL_CAPACITY, INBOX_CAPACITY};
use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

/// A running gateway.
pub struct ServerHandle {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    gateway: Gateway,
    shutdown: CancellationToken,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the gateway listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the admin listener, if the gateway has one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Server-side control of clients (publish, transmit, kick out, disconnect).
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The token whose cancellation starts a graceful shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Starts a graceful shutdown and waits until every thread has finished.
    pub fn stop(mut self) {
        self.shutdown.cancel();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    /// Like [`stop`](Self::stop), without blocking the calling async runtime.
    pub async fn shutdown(self) {
        let _ = tokio::task::spawn_blocking(move || self.stop()).await;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts a gateway on `listener` (already bound; port 0 is fine) with per-worker `hooks`,
/// without an admin listener.
pub fn start(
    settings: Settings,
    listener: std::net::TcpListener,
    hooks: HooksFactory,
) -> anyhow::Result<ServerHandle> {
    start_with_admin(settings, listener, None, hooks)
}

/// Like [`start`], with the admin listener (`/health` with counters, `/metrics`, `/plugins`;
/// `admin_token` applies) on `admin`, already bound.
pub fn start_with_admin(
    settings: Settings,
    listener: std::net::TcpListener,
    admin: Option<std::net::TcpListener>,
    hooks: HooksFactory,
) -> anyhow::Result<ServerHandle> {
    let settings = Arc::new(settings);
    let workers = settings.effective_workers();
    let shutdown = CancellationToken::new();
    let metrics = Arc::new(Metrics::default());
    let signer = Arc::new(Signer::from_settings(&settings).context("auth keys")?);
    let (broker, broker_thread) = start_broker(&settings, workers, &metrics, &shutdown)?;
    listener.set_nonblocking(true).context("listener")?;
    let addr = listener.local_addr().context("listener address")?;

    let mut accept_senders = Vec::with_capacity(workers);
    let mut control_senders = Vec::with_capacity(workers);
    let mut receivers = Vec::with_capacity(workers);
    for index in 0..workers {
        let (accept_tx, accept_rx) = mpsc::channel(ACCEPT_CAPACITY);
        let (control_tx, control_rx) = mpsc::channel(CONTROL_CAPACITY);
        let (delivery_tx, delivery_rx) = mpsc::channel(INBOX_CAPACITY);
        broker.attach(index, delivery_tx);
        accept_senders.push(accept_tx);
        control_senders.push(control_tx);
        receivers.push((accept_rx, control_rx, delivery_rx));
    }
    let gateway = Gateway::new(broker.clone(), control_senders, metrics.clone());

    let mut threads = Vec::with_capacity(workers + 3);
    threads.extend(broker_thread);
    let admin_addr = match admin {
        Some(admin) => {
            let admin_addr = admin.local_addr().context("admin listener address")?;
            let ctx = crate::admin::AdminCtx {
                settings: settings.clone(),
                metrics: metrics.clone(),
                gateway: gateway.clone(),
            };
            let thread = crate::admin::spawn(admin, ctx, shutdown.clone())
                .context("starting the admin thread")?;
            threads.push(thread);
            Some(admin_addr)
        }
        None => None,
    };
    for (index, (accepted, controls, deliveries)) in receivers.into_iter().enumerate() {
        let spec = WorkerSpec {
            index,
            settings: settings.clone(),
            broker: broker.clone(),
            gateway: gateway.clone(),
            hooks: hooks.clone(),
            metrics: metrics.clone(),
            signer: signer.clone(),
            shutdown: shutdown.clone(),
            accepted,
            deliveries,
            controls,
        };
        threads.push(worker::spawn(spec).context("starting a worker thread")?);
    }
    let limit = Arc::new(Semaphore::new(settings.max_connections));
    let acceptor_shutdown = shutdown.clone();
    let acceptor_metrics = metrics.clone();
    let acceptor = std::thread::Builder::new()
        .name("scgate-acceptor".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else {
                tracing::error!("cannot start the acceptor runtime");
                return acceptor_shutdown.cancel();
            };
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        acceptor::run(
                            listener,
                            accept_senders,
                            limit,
                            acceptor_metrics,
                            acceptor_shutdown,
                        )
                        .await
                    }
                    Err(err) => {
                        tracing::error!("cannot register the listener: {err}");
                        acceptor_shutdown.cancel();
                    }
                }
            });
        })
        .context("starting the acceptor thread")?;
    threads.push(acceptor);
    Ok(ServerHandle {
        addr,
        admin_addr,
        gateway,
        shutdown,
        threads,
    })
}

/// A started broker, and the thread that owns its engine connections (none in process).
type StartedBroker = (Arc<dyn Broker>, Option<JoinHandle<()>>);

/// The broker the `broker` setting names, started.
fn start_broker(
    settings: &Settings,
    workers: usize,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
) -> anyhow::Result<StartedBroker> {
    let shards = settings.effective_brokers();
    let engine =
        match crate::config::broker_kind::parse(&settings.broker).map_err(anyhow::Error::msg)? {
            BrokerKind::Memory => return Ok((Arc::new(MemoryBroker::new(shards, workers)), None)),
            BrokerKind::Redis(url) => (url, crate::broker::redis::start as EngineStart),
            BrokerKind::Nats(url) => (url, crate::broker::nats::start as EngineStart),
        };
    let (url, start) = engine;
    let (broker, thread) = start(&url, shards, workers, metrics.clone(), shutdown.clone())?;
    Ok((broker, Some(thread)))
}

/// The start function every distributed engine has (`redis::start`, `nats::start`).
type EngineStart = fn(
    &str,
    usize,
    usize,
    Arc<Metrics>,
    CancellationToken,
)
    -> anyhow::Result<(Arc<crate::broker::engine::EngineBroker>, JoinHandle<()>)>;

/// Reads the settings and plugin tables again (SIGHUP), the way they were read at start.
pub type Reread = Box<dyn FnMut() -> anyhow::Result<(Settings, toml::Table)>>;

/// `scgate serve`: loads the plugins, binds, reloads plugins as they change (and on SIGHUP,
/// through `reread`), runs until SIGINT/SIGTERM, drains, returns.
pub fn serve(
    settings: Settings,
    tables: toml::Table,
    mut reread: Option<Reread>,
) -> anyhow::Result<()> {
    let mut plugins = crate::plugin::Plugins::load(&settings, &tables)?;
    let hooks = plugins.hooks();
    let dev = settings
        .dev
        .then(|| std::path::PathBuf::from(&settings.dev_src));
    plugins.watch(settings.plugins_watch, dev.as_deref())?;
    let current = settings.clone();
    let mut on_hangup = move || {
        let Some(reread) = reread.as_mut() else {
            tracing::info!("SIGHUP: no config to reread");
            return;
        };
        match reread() {
            Ok((settings, tables)) => {
                let ignored = restart_only_changes(&current, &settings);
                if !ignored.is_empty() {
                    tracing::warn!(
                        "SIGHUP: changed settings that take effect only on restart: {}",
                        ignored.join(", ")
                    );
                }
                tracing::info!("SIGHUP: reloading plugin settings");
                plugins.reconfigure(settings, tables);
            }
            Err(err) => tracing::error!("SIGHUP: config not reloaded, nothing changed: {err:#}"),
        }
    };
    run(settings, hooks, &mut on_hangup)
}

/// The settings SIGHUP applies: those of plugins (their folder and limits); the watcher and
/// dev threads are set up once, at start.
fn applied_on_hangup(key: &str) -> bool {
    key.starts_with("plugin") && key != "plugins_watch"
}

/// Keys whose value differs between `old` and `new` and that SIGHUP does not apply.
fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<String> {
    let (Ok(serde_json::Value::Object(old)), Ok(serde_json::Value::Object(new))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    old.iter()
        .filter(|(key, value)| !applied_on_hangup(key) && new.get(*key) != Some(value))
        .map(|(key, _)| key.clone())
        .collect()
}

/// The admin listener the settings ask for, bound; none when `admin_host` is empty.
fn bind_admin(settings: &Settings) -> anyhow::Result<Option<std::net::TcpListener>> {
    if settings.admin_host.is_empty() {
        return Ok(None);
    }
    let address = format!("{}:{}", settings.admin_host, settings.admin_port);
    let listener = std::net::TcpListener::bind(&address)
        .with_context(|| format!("cannot listen on {address} (admin_host, admin_port)"))?;
    let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    if !loopback && settings.admin_token.is_empty() {
        tracing::warn!(
            %address,
            "the admin listener is reachable from other machines and admin_token is empty: \
             anyone who reaches it can read the counters and the plugin report"
        );
    }
    Ok(Some(listener))
}

/// Like [`serve`], with application hooks (the embedding API).
pub fn serve_with_hooks(settings: Settings, hooks: HooksFactory) -> anyhow::Result<()> {
    run(settings, hooks, &mut || {
        tracing::info!("SIGHUP: nothing to reload (native hooks)")
    })
}

fn run(settings: Settings, hooks: HooksFactory, on_hangup: &mut dyn FnMut()) -> anyhow::Result<()> {
    let address = format!("{}:{}", settings.host, settings.port);
    let listener = std::net::TcpListener::bind(&address)
        .with_context(|| format!("cannot listen on {address}"))?;
    let admin = bind_admin(&settings)?;
    let handle = start_with_admin(settings, listener, admin, hooks)?;
    tracing::info!(address = %handle.local_addr(), "listening");
    // A fixed line on stdout that scripts and benchmark harnesses wait for, then the admin
    // listener's address on a line of its own; one write, so a reader that stops after the
    // first line cannot make the second fail.
    let mut lines = format!("scgate READY listening on http://{}\n", handle.local_addr());
    if let Some(admin) = handle.admin_addr() {
        tracing::info!(address = %admin, "admin listening");
        lines.push_str(&format!("scgate ADMIN listening on http://{admin}\n"));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(lines.as_bytes());
    let _ = stdout.flush();
    drop(stdout);
    signals::wait_for_shutdown(handle.shutdown_token(), on_hangup)?;
    handle.stop();
    tracing::info!("stopped");
    Ok(())
}
