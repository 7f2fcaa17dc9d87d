//! Plugins: the application logic as WebAssembly components (`wit/plugin.wit`), one long-lived
//! instance per plugin per worker, sandboxed (no WASI unless opted into the stub context, a CPU
//! deadline per call, memory, table and instance caps), compiled once before the workers start.
//!
//! | file | owns |
//! |---|---|
//! | `bindings.rs` | the one `bindgen!` |
//! | `engine.rs` | engine configuration and the epoch ticker, compiling through the caches |
//! | `artifact_cache.rs` | the on-disk cache of compiled components |
//! | `component.rs` | reading, compiling, linking and validating one plugin |
//! | `instance.rs` | one worker's instance: deadline, trap recovery |
//! | `host.rs` | the host imports and what one call may hand over |
//! | `bridge.rs` | the gateway's `Hooks` served by a worker's instances |
//! | `kv.rs` | the key-value store shared by every worker |
//! | `inspect.rs` | `scgate check-plugin` |
//! | `scaffold.rs` | `scgate new-plugin` |
//! | `templates.rs` | the embedded project templates, one per language |

pub mod artifact_cache;
pub mod bindings;
mod bridge;
pub mod component;
pub mod engine;
pub mod host;
pub mod inspect;
mod instance;
pub mod kv;
pub mod scaffold;
pub mod templates;

use crate::config::Settings;
use crate::hooks::HooksFactory;
use anyhow::Context;
use component::{Linkers, LoadedPlugin, PluginConfig};
use host::Limits;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

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

/// The plugins to load: every `*.wasm` in `plugins_dir` (name = file stem), plus every
/// `[plugins.NAME]` table with a `file` key; each with its table as config.
fn discover(
    settings: &Settings,
    tables: &toml::Table,
) -> anyhow::Result<Vec<(String, PathBuf, toml::Table)>> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    if !settings.plugins_dir.is_empty() && Path::new(&settings.plugins_dir).is_dir() {
        let entries = std::fs::read_dir(&settings.plugins_dir)
            .with_context(|| format!("cannot list {}", settings.plugins_dir))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "wasm") && path.is_file() {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    found.push((stem.to_owned(), path));
                }
            }
        }
    }
    for (name, table) in tables {
        if let Some(file) = table.get("file").and_then(toml::Value::as_str) {
            found.retain(|(n, _)| n != name);
            found.push((name.clone(), PathBuf::from(file)));
        }
    }
    for name in tables.keys() {
        if !found.iter().any(|(n, _)| n == name) {
            tracing::warn!(plugin = %name, "[plugins.{name}] matches no {name}.wasm in plugins_dir and has no `file`: ignored");
        }
    }
    found.sort();
    Ok(found
        .into_iter()
        .map(|(name, path)| {
            let table = tables
                .get(&name)
                .and_then(toml::Value::as_table)
                .cloned()
                .unwrap_or_default();
            (name, path, table)
        })
        .collect())
}

/// Loads and validates every plugin, then returns the hooks each worker builds from them.
pub fn load(settings: &Settings, tables: &toml::Table) -> anyhow::Result<HooksFactory> {
    let engine = engine::shared_engine()?;
    let linkers = Linkers::new(&engine)?;
    let kv = Arc::new(kv::Kv::default());
    let mut plugins: Vec<Arc<LoadedPlugin>> = Vec::new();
    for (name, path, table) in discover(settings, tables)? {
        let config =
            PluginConfig::from_table(table).with_context(|| format!("[plugins.{name}]"))?;
        let started = std::time::Instant::now();
        let plugin = component::load(
            &engine,
            &linkers,
            &name,
            &path,
            config,
            settings,
            kv.clone(),
        )?;
        tracing::info!(
            plugin = name,
            events = ?plugin.registration.events,
            stages = ?plugin.registration.stages,
            "loaded {} in {:?}",
            path.display(),
            started.elapsed()
        );
        plugins.push(Arc::new(plugin));
    }
    plugins.sort_by(|a, b| (a.config.order, &a.name).cmp(&(b.config.order, &b.name)));
    let plugins: Arc<[Arc<LoadedPlugin>]> = plugins.into();
    let max_reply = settings.max_message_bytes;
    Ok(Arc::new(move |_worker| {
        Rc::new(bridge::PluginHooks::new(&plugins, max_reply))
    }))
}
