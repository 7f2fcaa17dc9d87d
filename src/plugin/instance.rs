//! One worker's instance of one plugin: a long-lived store (state lives per worker, as in a
//! SocketCluster worker), a CPU deadline on every call, and a fresh instance after any trap —
//! a trapped instance is broken for good, so its store is discarded.

use super::bindings::{handler, lifecycle, middleware};
use super::component::{wt, LoadedPlugin, Registration};
use super::cpu_deadline::CpuDeadline;
use super::engine::run_until;
use super::host::HostState;
use crate::hooks::Actions;
use crate::metrics::{Metrics, PLUGIN_CALLS, PLUGIN_FAILURES};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Store, Trap};

/// A started instance: its store and the roles it exports.
pub struct Live {
    pub store: Store<HostState>,
    deadline: CpuDeadline,
    pub handler: Option<handler::Guest>,
    pub middleware: Option<middleware::Guest>,
    pub lifecycle: Option<lifecycle::Guest>,
    pub registration: Registration,
}

/// Wall-clock time a call may spend pending on WASI beyond its CPU deadline (see `run_until`).
const PENDING_SLACK: Duration = Duration::from_millis(10);

/// The wall-clock budget of one call: its CPU deadline plus a little slack.
fn budget(plugin: &LoadedPlugin) -> Duration {
    Duration::from_millis(plugin.limits.deadline_ms) + PENDING_SLACK
}

impl Live {
    /// Instantiates `plugin` and runs its `init` (handler and middleware roles), each step under
    /// the plugin's deadline.
    pub fn start(plugin: &LoadedPlugin) -> anyhow::Result<Live> {
        // Instantiation and up to two `init` calls, each with its own deadline.
        let limit = budget(plugin) * 3;
        run_until(Self::start_async(plugin), limit)
            .unwrap_or_else(|| Err(anyhow::anyhow!("start did not finish within {limit:?}")))
    }

    async fn start_async(plugin: &LoadedPlugin) -> anyhow::Result<Live> {
        let state = HostState::new(plugin.name.clone(), &plugin.limits, plugin.kv.clone());
        let mut store = Store::new(plugin.pre.component().engine(), state);
        store.limiter(|s| s.limiter());
        let deadline = CpuDeadline::install(&mut store, plugin.limits.deadline_ms);
        let instance = plugin.pre.instantiate_async(&mut store).await.map_err(wt)?;
        let handler = plugin
            .handler
            .as_ref()
            .map(|i| i.load(&mut store, &instance))
            .transpose()
            .map_err(wt)?;
        let middleware = plugin
            .middleware
            .as_ref()
            .map(|i| i.load(&mut store, &instance))
            .transpose()
            .map_err(wt)?;
        let lifecycle = plugin
            .lifecycle
            .as_ref()
            .map(|i| i.load(&mut store, &instance))
            .transpose()
            .map_err(wt)?;
        let config = plugin.config.json.as_str();
        let mut registration = Registration::default();
        if let Some(handler) = &handler {
            let result = handler.call_init(&mut store, config).await.map_err(wt)?;
            registration.events = result
                .map_err(|e| anyhow::anyhow!("handler init: {e}"))?
                .events;
        }
        if let Some(middleware) = &middleware {
            deadline.arm(&mut store);
            let result = middleware.call_init(&mut store, config).await.map_err(wt)?;
            registration.stages = result.map_err(|e| anyhow::anyhow!("middleware init: {e}"))?;
        }
        let ignored = store.data_mut().finish_call();
        if !ignored.0.is_empty() {
            tracing::warn!(plugin = %plugin.name, "host calls made during init are ignored");
        }
        Ok(Live {
            store,
            deadline,
            handler,
            middleware,
            lifecycle,
            registration,
        })
    }
}

/// A worker's instance of one plugin, restarted after a failure.
pub struct PluginInstance {
    pub plugin: Arc<LoadedPlugin>,
    live: Option<Live>,
}

impl PluginInstance {
    pub fn new(plugin: Arc<LoadedPlugin>) -> Self {
        let live = match Live::start(&plugin) {
            Ok(live) => Some(live),
            Err(err) => {
                tracing::error!(plugin = %plugin.name, "cannot start: {err:#}");
                None
            }
        };
        PluginInstance { plugin, live }
    }

    /// Runs one guest call under the deadline. On success returns its result and the actions it
    /// asked for; on a trap (deadline, memory cap, panic) discards the instance and returns why.
    pub fn call<R>(
        &mut self,
        what: &str,
        caller: Option<&Arc<str>>,
        f: impl AsyncFnOnce(&mut Live) -> wasmtime::Result<R>,
    ) -> Result<(R, Actions), String> {
        if self.live.is_none() {
            match Live::start(&self.plugin) {
                Ok(live) => self.live = Some(live),
                Err(err) => return Err(format!("cannot start: {err:#}")),
            }
        }
        let Some(live) = self.live.as_mut() else {
            return Err("not running".into());
        };
        live.deadline.arm(&mut live.store);
        live.store.data_mut().begin_call(caller.cloned());
        let budget = budget(&self.plugin);
        Metrics::inc(&PLUGIN_CALLS);
        Metrics::inc(&self.plugin.stats.calls);
        let outcome = run_until(f(live), budget).unwrap_or_else(|| {
            Err(wasmtime::Error::msg(format!(
                "blocked on WASI past {budget:?}"
            )))
        });
        match outcome {
            Ok(result) => Ok((result, live.store.data_mut().finish_call())),
            Err(err) => {
                Metrics::inc(&PLUGIN_FAILURES);
                Metrics::inc(&self.plugin.stats.errors);
                // Clients get a short reason; the log gets the whole chain (with the guest's
                // backtrace), which may name internals a client should not see.
                let reason = match err.downcast_ref::<Trap>() {
                    Some(Trap::Interrupt) => format!(
                        "exceeded its CPU deadline of {} ms",
                        self.plugin.limits.deadline_ms
                    ),
                    Some(trap) => format!("trapped: {trap}"),
                    None => err
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or("failed")
                        .to_owned(),
                };
                tracing::warn!(plugin = %self.plugin.name, "{what} failed: {err:?}; starting a fresh instance");
                live.store.data_mut().finish_call();
                self.live = None;
                Err(reason)
            }
        }
    }
}
