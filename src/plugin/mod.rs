//! Plugins: the application logic as WebAssembly components (`wit/plugin.wit`), one long-lived
//! instance per plugin per worker, sandboxed (no WASI unless opted into the stub context, a CPU
//! deadline per call, memory, table and instance caps), compiled and validated before they go live, and reloaded
//! while the gateway runs.
//!
//! | file | owns |
//! |---|---|
//! | `bindings.rs` | the one `bindgen!` |
//! | `engine.rs` | engine configuration and the epoch ticker, compiling through the caches |
//! | `artifact_cache.rs` | the on-disk cache of compiled components |
//! | `component.rs` | reading, compiling, linking and validating one plugin |
//! | `cpu_deadline.rs` | a call's deadline in thread CPU time, checked at epoch ticks |
//! | `instance.rs` | one worker's instance: deadline, trap recovery |
//! | `host.rs` | the host imports and what one call may hand over |
//! | `bridge.rs` | the gateway's `Hooks` served by a worker's instances, following reloads |
//! | `worker_set.rs` | one worker's instances of one plugin set, indexed by event and stage |
//! | `registry.rs` | the live plugin set every worker reads, and each plugin's status |
//! | `loader.rs` | finding plugins and loading them into the registry |
//! | `watch.rs` | the watcher thread: reloads on file changes, SIGHUP and `--dev` builds |
//! | `dev.rs` | `serve --dev`: rebuilds a Rust plugin when its source changes |
//! | `status.rs` | `scgate plugins`: fetching and printing the status report; its public form |
//! | `kv.rs` | the key-value store shared by every worker |
//! | `inspect.rs` | `scgate check-plugin` |
//! | `scaffold.rs` | `scgate new-plugin` |
//! | `templates.rs` | the embedded project templates, one per language |

pub mod artifact_cache;
pub mod bindings;
mod bridge;
pub mod component;
mod cpu_deadline;
mod dev;
pub mod engine;
pub mod host;
pub mod inspect;
mod instance;
pub mod kv;
pub mod loader;
pub mod registry;
pub mod scaffold;
pub mod status;
pub mod templates;
mod watch;
mod worker_set;

use crate::config::Settings;
use crate::hooks::HooksFactory;
use dev::DevBuilder;
use host::Limits;
use loader::Loader;
use registry::Registry;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use watch::Watcher;

/// The per-instance limits from the settings.
pub fn limits(settings: &Settings) -> Limits {
    Limits {
        memory_bytes: settings.plugin_memory_bytes,
        tables: settings.plugin_max_tables,
        table_elements: settings.plugin_max_table_elements,
        instances: settings.plugin_max_instances,
        deadline_ms: settings.plugin_deadline_ms,
    }
}

/// The plugin runtime of one gateway: the registry every worker's hooks read, and (once
/// [`Plugins::watch`] is called) the threads that reload plugins while it runs.
pub struct Plugins {
    registry: Arc<Registry>,
    max_reply_bytes: usize,
    /// The loader until [`Plugins::watch`] hands it to the watcher thread.
    loader: Option<Loader>,
    // Declared before `watcher`: the dev builder sends to the watcher, so it stops first.
    dev: Option<DevBuilder>,
    watcher: Option<Watcher>,
}

impl Plugins {
    /// Loads and validates every plugin; the first that fails to load is the error.
    pub fn load(settings: &Settings, tables: &toml::Table) -> anyhow::Result<Plugins> {
        let registry = Arc::new(Registry::default());
        let mut loader = Loader::new(registry.clone(), settings.clone(), tables.clone())?;
        loader.load_all()?;
        Ok(Plugins {
            registry,
            max_reply_bytes: settings.max_message_bytes,
            loader: Some(loader),
            dev: None,
            watcher: None,
        })
    }

    /// The hooks each worker builds: its instances of the live plugins, following reloads.
    pub fn hooks(&self) -> HooksFactory {
        let registry = self.registry.clone();
        let max_reply = self.max_reply_bytes;
        Arc::new(move |_worker| Rc::new(bridge::PluginHooks::new(registry.clone(), max_reply)))
    }

    /// Starts reloading while the gateway runs: on file changes in the plugin folders (with
    /// `files`), on [`Plugins::reconfigure`], and, with `dev` (a source folder), after
    /// rebuilding a Rust plugin whose source changed. Calling it again does nothing.
    pub fn watch(&mut self, files: bool, dev: Option<&Path>) -> anyhow::Result<()> {
        let Some(loader) = self.loader.take() else {
            return Ok(());
        };
        let watcher = Watcher::spawn(loader, files || dev.is_some())?;
        if let Some(src) = dev {
            self.dev = Some(DevBuilder::spawn(
                src,
                self.registry.clone(),
                watcher.sender(),
            )?);
        }
        self.watcher = Some(watcher);
        Ok(())
    }

    /// Applies new settings and plugin tables (SIGHUP): loads added plugins, reloads those whose
    /// file, table or limits changed, unloads removed ones. A plugin that fails keeps its live
    /// version; the failure is in the log and the status report.
    pub fn reconfigure(&mut self, settings: Settings, tables: toml::Table) {
        match (&self.watcher, &mut self.loader) {
            (Some(watcher), _) => watcher.reconfigure(settings, tables),
            (None, Some(loader)) => loader.reconfigure(settings, tables),
            (None, None) => {}
        }
    }

    /// The status report: every plugin, its version, when it went live, what it registered,
    /// its call and error counts and its last load error.
    pub fn status(&self) -> serde_json::Value {
        self.registry.status()
    }
}

/// Loads and validates every plugin, then returns the hooks each worker builds from them,
/// without reloading (the embedding API; `scgate serve` uses [`Plugins`]).
pub fn load(settings: &Settings, tables: &toml::Table) -> anyhow::Result<HooksFactory> {
    Ok(Plugins::load(settings, tables)?.hooks())
}
