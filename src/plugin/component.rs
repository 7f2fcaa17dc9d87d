//! Loading one plugin: read (size-capped), compile, link against the WIT, find which roles it
//! exports, and prove it starts by running its `init` once — all before any worker uses it.

use super::bindings::{handler, lifecycle, middleware, Plugin};
use super::host::{HostState, Limits};
use super::instance::Live;
use super::kv::Kv;
use anyhow::{anyhow, bail, Context};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::Engine;

/// How a plugin is configured: its `[plugins.NAME]` table, minus the keys the host reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginConfig {
    /// Link the stub WASI context (`wasi = true`), needed by the default output of Rust std,
    /// Python and JS toolchains. Off by default: no WASI at all.
    pub wasi: bool,
    /// Middleware order: lower runs first (`order = N`, default 0; ties by name).
    pub order: i64,
    /// Everything else in the table, as JSON, for the plugin's `init`.
    pub json: String,
}

impl PluginConfig {
    /// Splits a `[plugins.NAME]` table into host keys and the plugin's own config.
    pub fn from_table(mut table: toml::Table) -> anyhow::Result<Self> {
        let wasi = match table.remove("wasi") {
            None => false,
            Some(toml::Value::Boolean(b)) => b,
            Some(other) => bail!("`wasi` must be true or false, got {other}"),
        };
        let order = match table.remove("order") {
            None => 0,
            Some(toml::Value::Integer(n)) => n,
            Some(other) => bail!("`order` must be an integer, got {other}"),
        };
        table.remove("file");
        let json = serde_json::to_string(&table)?;
        Ok(PluginConfig { wasi, order, json })
    }
}

/// What a plugin registered in its `init`.
#[derive(Clone, Debug, Default)]
pub struct Registration {
    pub events: Vec<String>,
    pub stages: Vec<middleware::Stage>,
}

/// A compiled, linked, validated plugin, ready to be instantiated by every worker.
pub struct LoadedPlugin {
    pub name: Arc<str>,
    pub config: PluginConfig,
    pub limits: Limits,
    pub pre: InstancePre<HostState>,
    pub handler: Option<handler::GuestIndices>,
    pub middleware: Option<middleware::GuestIndices>,
    pub lifecycle: Option<lifecycle::GuestIndices>,
    pub registration: Registration,
    pub kv: Arc<Kv>,
    /// The component's content hash (sha256, hex): its version in the status report.
    pub version: String,
    /// Call and error counts, kept across versions of the same plugin name.
    pub stats: Arc<PluginStats>,
}

/// Counts shared by every worker's instance of a plugin (and by its later versions). Relaxed
/// atomics: independent tallies, read only for the status report.
#[derive(Debug, Default)]
pub struct PluginStats {
    /// Guest calls made (events, middleware, lifecycle).
    pub calls: AtomicU64,
    /// Calls that trapped, ran past the deadline or hit a limit.
    pub errors: AtomicU64,
}

/// The two linkers: host imports only, and host imports plus the stub WASI context.
pub struct Linkers {
    plain: Linker<HostState>,
    wasi: Linker<HostState>,
}

impl Linkers {
    pub fn new(engine: &Engine) -> anyhow::Result<Self> {
        let mut plain = Linker::new(engine);
        Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut plain, |s| s).map_err(wt)?;
        let mut wasi = Linker::new(engine);
        Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut wasi, |s| s).map_err(wt)?;
        wasmtime_wasi::p2::add_to_linker_async(&mut wasi).map_err(wt)?;
        Ok(Linkers { plain, wasi })
    }
}

/// wasmtime 48 has its own error type; carry its full chain into anyhow.
pub fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow!("{e:?}")
}

/// Reads, compiles and validates the plugin at `path`, with the limits of `settings`.
pub fn load(
    engine: &Engine,
    linkers: &Linkers,
    name: &str,
    path: &Path,
    config: PluginConfig,
    settings: &crate::config::Settings,
    kv: Arc<Kv>,
) -> anyhow::Result<LoadedPlugin> {
    let bytes = read(path, settings.plugin_max_component_bytes)?;
    let source = Source {
        path,
        bytes: &bytes,
        version: version(&bytes),
    };
    load_bytes(
        engine,
        linkers,
        name,
        &source,
        config,
        settings,
        kv,
        Arc::default(),
    )
}

/// Reads a component file, refusing one over `max_bytes`.
pub fn read(path: &Path, max_bytes: usize) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > max_bytes as u64 {
        bail!(
            "{} is {size} bytes, over plugin_max_component_bytes ({max_bytes})",
            path.display()
        );
    }
    // Read at most one byte past the cap, so a file that grew since `metadata` is still caught.
    let mut bytes = Vec::with_capacity(size as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(max_bytes as u64 + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > max_bytes {
        bail!(
            "{} is over plugin_max_component_bytes ({max_bytes})",
            path.display()
        );
    }
    Ok(bytes)
}

/// A component's version: the hex sha256 of its bytes.
pub fn version(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bytes of a component and where they came from.
pub struct Source<'a> {
    pub path: &'a Path,
    pub bytes: &'a [u8],
    pub version: String,
}

/// Compiles, links and validates a component already read, with the limits of `settings`;
/// `stats` carries the counts of the plugin's earlier versions.
#[allow(clippy::too_many_arguments)] // each is a distinct input of one load; a struct would only rename them
pub fn load_bytes(
    engine: &Engine,
    linkers: &Linkers,
    name: &str,
    source: &Source<'_>,
    config: PluginConfig,
    settings: &crate::config::Settings,
    kv: Arc<Kv>,
    stats: Arc<PluginStats>,
) -> anyhow::Result<LoadedPlugin> {
    let limits = super::limits(settings);
    let (path, bytes) = (source.path, source.bytes);
    let cache_dir = super::engine::cache_dir(&settings.plugin_cache_dir);
    let (component, _) = super::engine::compile_cached(engine, bytes, cache_dir.as_deref())
        .map_err(|e| anyhow!("{} is not a valid component: {e}", path.display()))?;
    let linker = if config.wasi {
        &linkers.wasi
    } else {
        &linkers.plain
    };
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        let hint = if config.wasi { "" } else { " (if it imports wasi:*, set `wasi = true` in its [plugins.NAME] table to give it the stub WASI context)" };
        anyhow!("plugin {name} does not link against the scgate WIT{hint}: {e}")
    })?;
    let handler = handler::GuestIndices::new(&pre).ok();
    let middleware = middleware::GuestIndices::new(&pre).ok();
    let lifecycle = lifecycle::GuestIndices::new(&pre).ok();
    if handler.is_none() && middleware.is_none() && lifecycle.is_none() {
        bail!("plugin {name} exports none of scgate:plugin/handler, middleware or lifecycle");
    }
    let mut plugin = LoadedPlugin {
        name: name.into(),
        config,
        limits,
        pre,
        handler,
        middleware,
        lifecycle,
        registration: Registration::default(),
        kv,
        version: source.version.clone(),
        stats,
    };
    let live = Live::start(&plugin).with_context(|| format!("plugin {name} failed to start"))?;
    plugin.registration = live.registration.clone();
    Ok(plugin)
}
