//! `scgate check-plugin`: [`check`] loads one component exactly as `scgate serve` would and
//! reports what it is. (`scgate new-plugin` is in `scaffold.rs`.)

use super::bindings::middleware::Stage;
use super::component::{self, Linkers, LoadedPlugin, PluginConfig};
use super::instance::Live;
use super::kv::Kv;
use crate::config::Settings;
use anyhow::{anyhow, Context};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// check-plugin

/// What [`check`] found out about a plugin that loads.
#[derive(Clone, Debug)]
pub struct Report {
    /// The plugin's name: the `[plugins.NAME]` table whose `file` is this file, else the stem.
    pub name: String,
    /// The file, as given.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lower-case hex (the key of the gateway's compiled-component cache).
    pub sha256: String,
    /// Whether the stub WASI context was linked, and why.
    pub wasi: WasiSource,
    /// The config file the plugin's table came from, if any.
    pub config_file: Option<PathBuf>,
    /// Whether that file has a `[plugins.NAME]` table for this plugin.
    pub has_table: bool,
    /// The JSON `init` received.
    pub init_config: String,
    /// Middleware order (`order`).
    pub order: i64,
    /// The roles it exports, of `handler`, `middleware`, `lifecycle`.
    pub roles: Vec<&'static str>,
    /// Every import of the component, sorted (`scgate:plugin/host@0.1.0`, `wasi:io/poll@0.2.6`, …).
    pub imports: Vec<String>,
    /// The events its handler registered.
    pub events: Vec<String>,
    /// The stages its middleware registered, by their WIT names.
    pub stages: Vec<&'static str>,
    /// Reading, compiling, linking and the first `init`.
    pub load_time: Duration,
    /// Starting one more instance (instantiate + `init`): what each worker pays at start and
    /// after every trap.
    pub instance_time: Duration,
}

/// Why the stub WASI context was (or was not) linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasiSource {
    /// Not linked: the component may import nothing but the scgate WIT.
    Off,
    /// `--wasi` on the command line.
    Flag,
    /// `wasi = true` in the plugin's table of the config file.
    Config,
}

impl Report {
    /// The WASI interfaces among the imports.
    pub fn wasi_imports(&self) -> impl Iterator<Item = &str> {
        self.imports
            .iter()
            .map(String::as_str)
            .filter(|i| i.starts_with("wasi:"))
    }
}

/// The WIT name of a middleware stage, as `init` returns it.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::HandshakeWs => "handshake-ws",
        Stage::HandshakeSc => "handshake-sc",
        Stage::Emit => "emit",
        Stage::Subscribe => "subscribe",
        Stage::PublishIn => "publish-in",
        Stage::PublishOut => "publish-out",
        Stage::Authenticate => "authenticate",
    }
}

/// Loads the plugin at `path` exactly as `scgate serve` does — the size cap, compiling, linking
/// against the WIT (with the stub WASI context if `wasi` or its table says so), running `init`
/// with its `[plugins.NAME]` table — then starts a second instance as a worker would, and
/// reports what it found. `tables` is the config file's `[plugins]` table (empty without one),
/// `config_file` where it came from.
pub fn check(
    path: &Path,
    wasi: bool,
    settings: &Settings,
    tables: &toml::Table,
    config_file: Option<&Path>,
) -> anyhow::Result<Report> {
    let (name, table) = find_table(path, tables)?;
    let has_table = table.is_some();
    let mut config = PluginConfig::from_table(table.unwrap_or_default())
        .with_context(|| format!("[plugins.{name}]"))?;
    let wasi_source = match (wasi, config.wasi) {
        (true, _) => WasiSource::Flag,
        (false, true) => WasiSource::Config,
        (false, false) => WasiSource::Off,
    };
    config.wasi |= wasi;
    let init_config = config.json.clone();
    let order = config.order;

    let engine = super::engine::shared_engine()?;
    let linkers = Linkers::new(&engine)?;
    let started = Instant::now();
    let loaded = component::load(
        &engine,
        &linkers,
        &name,
        path,
        config,
        settings,
        Arc::new(Kv::default()),
    );
    let load_time = started.elapsed();
    let plugin = match loaded {
        Ok(plugin) => plugin,
        Err(err) => return Err(explain(err, &engine, &name, path, wasi_source, settings)),
    };

    let started = Instant::now();
    Live::start(&plugin).map_err(|e| anyhow!("plugin {name} loaded once but a second instance failed to start (each worker starts one): {e:#}"))?;
    let instance_time = started.elapsed();

    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Report {
        size: bytes.len() as u64,
        sha256: hex(&Sha256::digest(&bytes)),
        wasi: wasi_source,
        config_file: config_file.map(Path::to_path_buf),
        has_table,
        init_config,
        order,
        roles: roles(&plugin),
        imports: imports(&engine, &plugin.pre.component().clone()),
        events: plugin.registration.events.clone(),
        stages: plugin
            .registration
            .stages
            .iter()
            .copied()
            .map(stage_name)
            .collect(),
        load_time,
        instance_time,
        path: path.to_path_buf(),
        name,
    })
}

/// The plugin's name and table, as `serve` finds them: a `[plugins.X]` table whose `file` is
/// this file names it X; otherwise the name is the file stem, with the table of that name.
fn find_table(path: &Path, tables: &toml::Table) -> anyhow::Result<(String, Option<toml::Table>)> {
    let canonical = path.canonicalize().ok();
    for (name, value) in tables {
        let Some(file) = value.get("file").and_then(toml::Value::as_str) else {
            continue;
        };
        let same = Path::new(file) == path
            || (canonical.is_some() && Path::new(file).canonicalize().ok() == canonical);
        if same {
            return Ok((name.clone(), value.as_table().cloned()));
        }
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            anyhow!(
                "{} has no usable file name to name the plugin by",
                path.display()
            )
        })?;
    Ok((
        stem.to_owned(),
        tables.get(stem).and_then(toml::Value::as_table).cloned(),
    ))
}

/// Adds what the load error alone does not say: which WASI interfaces an unlinked component
/// imports.
fn explain(
    err: anyhow::Error,
    engine: &wasmtime::Engine,
    name: &str,
    path: &Path,
    wasi: WasiSource,
    settings: &Settings,
) -> anyhow::Error {
    if wasi != WasiSource::Off {
        return err;
    }
    // Only a file under the cap was compiled by the load (and is cached): nothing is read twice
    // that the gateway would have refused unread.
    let small = std::fs::metadata(path)
        .is_ok_and(|m| m.len() <= settings.plugin_max_component_bytes as u64);
    let compiled = small
        .then(|| std::fs::read(path).ok())
        .flatten()
        .and_then(|bytes| super::engine::compile(engine, &bytes).ok());
    let Some(component) = compiled else {
        return err;
    };
    let wasi: Vec<String> = imports(engine, &component)
        .into_iter()
        .filter(|i| i.starts_with("wasi:"))
        .collect();
    if wasi.is_empty() {
        return err;
    }
    anyhow!(
        "{err:#}\n  it imports {} WASI interface{}: {}\n  check it with --wasi, and give it `wasi = true` in its [plugins.{name}] table",
        wasi.len(),
        if wasi.len() == 1 { "" } else { "s" },
        wasi.join(", ")
    )
}

fn roles(plugin: &LoadedPlugin) -> Vec<&'static str> {
    let mut roles = Vec::new();
    if plugin.handler.is_some() {
        roles.push("handler");
    }
    if plugin.middleware.is_some() {
        roles.push("middleware");
    }
    if plugin.lifecycle.is_some() {
        roles.push("lifecycle");
    }
    roles
}

/// The names of everything the component imports, sorted.
fn imports(engine: &wasmtime::Engine, component: &wasmtime::component::Component) -> Vec<String> {
    let ty = component.component_type();
    let mut names: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    names.sort();
    names
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A column of values under one label: the first on the label's line, the rest aligned below.
fn rows(f: &mut fmt::Formatter<'_>, label: &str, values: &[String]) -> fmt::Result {
    for (i, value) in values.iter().enumerate() {
        let label = if i == 0 { label } else { "" };
        writeln!(f, "{label:<10} {value}")?;
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line =
            |f: &mut fmt::Formatter<'_>, label: &str, value: String| rows(f, label, &[value]);
        line(f, "plugin", self.name.clone())?;
        line(f, "file", self.path.display().to_string())?;
        line(
            f,
            "size",
            format!("{} bytes ({:.1} KiB)", self.size, self.size as f64 / 1024.0),
        )?;
        line(f, "sha256", self.sha256.clone())?;
        let table = format!("[plugins.{}]", self.name);
        let config = match (&self.config_file, self.has_table) {
            (Some(file), true) => format!(
                "{table} of {}; init gets {}",
                file.display(),
                self.init_config
            ),
            (Some(file), false) => format!(
                "no {table} in {}; init gets {}",
                file.display(),
                self.init_config
            ),
            (None, _) => format!(
                "none (--config FILE to use its {table}); init gets {}",
                self.init_config
            ),
        };
        line(f, "config", config)?;
        let wasi = match self.wasi {
            WasiSource::Off => "off (no WASI imports allowed)".to_owned(),
            WasiSource::Flag => "stub context (--wasi)".to_owned(),
            WasiSource::Config => format!("stub context (wasi = true in {table})"),
        };
        line(f, "wasi", wasi)?;
        line(f, "roles", self.roles.join(", "))?;
        let host: Vec<String> = self
            .imports
            .iter()
            .filter(|i| !i.starts_with("wasi:"))
            .cloned()
            .collect();
        let wasi: Vec<String> = self.wasi_imports().map(str::to_owned).collect();
        if host.is_empty() {
            line(f, "imports", "(none from the host)".into())?;
        } else {
            rows(f, "imports", &host)?;
        }
        if !wasi.is_empty() {
            let mut list = vec![format!(
                "{} WASI interfaces, served by the stub context:",
                wasi.len()
            )];
            list.extend(wasi.into_iter().map(|w| format!("  {w}")));
            rows(f, "", &list)?;
        }
        let events = match (self.roles.contains(&"handler"), self.events.is_empty()) {
            (false, _) => "(no handler role)".to_owned(),
            (true, true) => "(none registered: init returned no events)".to_owned(),
            (true, false) => self.events.join(", "),
        };
        line(f, "events", events)?;
        let stages = match (self.roles.contains(&"middleware"), self.stages.is_empty()) {
            (false, _) => "(no middleware role)".to_owned(),
            (true, true) => "(none registered: init returned no stages)".to_owned(),
            (true, false) => format!("{} (order {})", self.stages.join(", "), self.order),
        };
        line(f, "stages", stages)?;
        line(
            f,
            "load",
            format!("{} (read, compile, link, init)", ms(self.load_time)),
        )?;
        line(
            f,
            "instance",
            format!(
                "{} to instantiate and init (each worker, and after each trap)",
                ms(self.instance_time)
            ),
        )?;
        writeln!(f, "ok: {} is a valid scgate plugin", self.name)
    }
}
