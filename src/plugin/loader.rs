//! Finding plugins and bringing the registry in line with them: at start (where any failure
//! stops the gateway), after file changes, and after SIGHUP (where a failure is recorded and the
//! live version keeps serving).

use super::component::{self, Linkers, PluginConfig, Source};
use super::kv::Kv;
use super::registry::{Fingerprint, Registry};
use crate::config::Settings;
use anyhow::Context;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::Engine;

/// One plugin to load: its name, its file and its `[plugins.NAME]` table.
pub struct Discovered {
    pub name: String,
    pub path: PathBuf,
    pub table: toml::Table,
}

/// Every `*.wasm` in `plugins_dir` (name = file stem), plus every `[plugins.NAME]` table with a
/// `file` key (which wins over a file of the same name in the folder), sorted by name.
pub fn discover(settings: &Settings, tables: &toml::Table) -> anyhow::Result<Vec<Discovered>> {
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
    found.sort();
    Ok(found
        .into_iter()
        .map(|(name, path)| {
            let table = tables
                .get(&name)
                .and_then(toml::Value::as_table)
                .cloned()
                .unwrap_or_default();
            Discovered { name, path, table }
        })
        .collect())
}

/// `path` made absolute against the working directory (without resolving links), so that it
/// compares equal to the paths file events report for the watched folders.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// What [`Loader::reload`] did.
enum Reloaded {
    Live,
    Unchanged,
    Removed,
}

/// Loads plugins into a [`Registry`]; owned by one thread at a time (start-up, then the
/// watcher), so two loads of one plugin never race.
pub struct Loader {
    engine: Engine,
    linkers: Linkers,
    kv: Arc<Kv>,
    registry: Arc<Registry>,
    settings: Settings,
    tables: toml::Table,
    /// Each discovered name and the absolute path it was last loaded from.
    known: HashMap<String, PathBuf>,
}

impl Loader {
    pub fn new(
        registry: Arc<Registry>,
        settings: Settings,
        tables: toml::Table,
    ) -> anyhow::Result<Self> {
        let engine = super::engine::shared_engine()?;
        let linkers = Linkers::new(&engine)?;
        Ok(Loader {
            engine,
            linkers,
            kv: Arc::new(Kv::for_broker(&settings.broker)?),
            registry,
            settings,
            tables,
            known: HashMap::new(),
        })
    }

    /// Replaces the settings and tables (SIGHUP) and brings every plugin in line with them.
    pub fn reconfigure(&mut self, settings: Settings, tables: toml::Table) {
        for name in tables.keys() {
            let has_file = tables[name].get("file").is_some();
            let in_dir = Path::new(&settings.plugins_dir)
                .join(format!("{name}.wasm"))
                .is_file();
            if !has_file && !in_dir {
                tracing::warn!(plugin = %name, "[plugins.{name}] matches no {name}.wasm in plugins_dir and has no `file`: ignored");
            }
        }
        self.settings = settings;
        self.tables = tables;
        if let Err(err) = self.sync(None, false) {
            tracing::error!("plugins not reloaded: {err:#}");
        }
    }

    /// Loads every plugin; the first failure is returned (start-up: a plugin that does not load
    /// stops the gateway from starting).
    pub fn load_all(&mut self) -> anyhow::Result<()> {
        for name in self.tables.keys() {
            if !discover(&self.settings, &self.tables)?
                .iter()
                .any(|d| &d.name == name)
            {
                tracing::warn!(plugin = %name, "[plugins.{name}] matches no {name}.wasm in plugins_dir and has no `file`: ignored");
            }
        }
        self.sync(None, true)
    }

    /// Brings every plugin in line with its file (those unchanged are skipped).
    pub fn rescan(&mut self) {
        if let Err(err) = self.sync(None, false) {
            tracing::error!("plugins not reloaded: {err:#}");
        }
    }

    /// After file events on `touched` (absolute paths): loads new plugins, reloads those whose
    /// file was touched, unloads those whose file is gone.
    pub fn files_changed(&mut self, touched: &HashSet<PathBuf>) {
        if let Err(err) = self.sync(Some(touched), false) {
            tracing::error!("plugins not reloaded: {err:#}");
        }
    }

    /// The folders to watch: `plugins_dir` and the folder of every `file` set in a table.
    pub fn watched_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if !self.settings.plugins_dir.is_empty() {
            dirs.push(absolute(Path::new(&self.settings.plugins_dir)));
        }
        for table in self.tables.values() {
            if let Some(file) = table.get("file").and_then(toml::Value::as_str) {
                if let Some(parent) = absolute(Path::new(file)).parent() {
                    dirs.push(parent.to_owned());
                }
            }
        }
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Where a freshly built component of plugin `name` goes (`--dev`): the file it is loaded
    /// from, else `plugins_dir/NAME.wasm` if it has a `[plugins.NAME]` table; `None` for a
    /// crate that is not a plugin of this gateway.
    pub fn destination(&self, name: &str) -> Option<PathBuf> {
        if let Some(path) = self.known.get(name) {
            return Some(path.clone());
        }
        let table = self.tables.get(name)?;
        match table.get("file").and_then(toml::Value::as_str) {
            Some(file) => Some(absolute(Path::new(file))),
            None if !self.settings.plugins_dir.is_empty() => Some(absolute(
                &Path::new(&self.settings.plugins_dir).join(format!("{name}.wasm")),
            )),
            None => None,
        }
    }

    /// Brings the registry in line with what is discovered now: every plugin if `touched` is
    /// `None`, else new ones, moved ones and those whose file was touched.
    fn sync(&mut self, touched: Option<&HashSet<PathBuf>>, strict: bool) -> anyhow::Result<()> {
        let found = discover(&self.settings, &self.tables)?;
        let names: HashSet<&str> = found.iter().map(|d| d.name.as_str()).collect();
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|n| !names.contains(n.as_str()))
            .cloned()
            .collect();
        for name in gone {
            self.known.remove(&name);
            self.unload(&name);
        }
        for plugin in &found {
            let path = absolute(&plugin.path);
            let due = match touched {
                None => true,
                Some(touched) => {
                    touched.contains(&path) || self.known.get(&plugin.name) != Some(&path)
                }
            };
            if !due {
                continue;
            }
            self.known.insert(plugin.name.clone(), path);
            match self.reload(plugin, strict) {
                Ok(Reloaded::Live) | Ok(Reloaded::Unchanged) => {}
                Ok(Reloaded::Removed) => {
                    self.known.remove(&plugin.name);
                }
                Err(err) if strict => return Err(err),
                Err(err) => {
                    let live = if self.registry.fingerprint(&plugin.name).is_some() {
                        "the live version keeps serving"
                    } else {
                        "it is not loaded"
                    };
                    tracing::error!(plugin = %plugin.name, "new version not loaded, {live}: {err:#}");
                    self.registry
                        .failed(&plugin.name, &plugin.path, format!("{err:#}"));
                }
            }
        }
        Ok(())
    }

    fn unload(&self, name: &str) {
        if self.registry.fingerprint(name).is_some() {
            tracing::info!(plugin = %name, "unloaded: its file or table is gone");
        }
        self.registry.remove(name);
    }

    /// Loads one plugin and makes it live, unless it is unchanged or its file is gone (which
    /// unloads it while running, and is an error at start).
    fn reload(&self, plugin: &Discovered, strict: bool) -> anyhow::Result<Reloaded> {
        let name = &plugin.name;
        if !strict && !plugin.path.exists() {
            self.unload(name);
            return Ok(Reloaded::Removed);
        }
        let config = PluginConfig::from_table(plugin.table.clone())
            .with_context(|| format!("[plugins.{name}]"))?;
        let bytes = component::read(&plugin.path, self.settings.plugin_max_component_bytes)?;
        let fingerprint = Fingerprint {
            version: component::version(&bytes),
            config: config.clone(),
            limits: super::limits(&self.settings),
        };
        let previous = self.registry.fingerprint(name);
        if previous.as_ref() == Some(&fingerprint) {
            return Ok(Reloaded::Unchanged);
        }
        let started = Instant::now();
        let source = Source {
            path: &plugin.path,
            bytes: &bytes,
            version: fingerprint.version.clone(),
        };
        let loaded = component::load_bytes(
            &self.engine,
            &self.linkers,
            name,
            &source,
            config,
            &self.settings,
            self.kv.clone(),
            self.registry.stats(name),
        )?;
        tracing::info!(
            plugin = %name,
            version = &fingerprint.version[..12],
            events = ?loaded.registration.events,
            stages = ?loaded.registration.stages,
            "{} {} in {:?}",
            if previous.is_some() { "reloaded" } else { "loaded" },
            plugin.path.display(),
            started.elapsed()
        );
        self.registry.install(&plugin.path, loaded, fingerprint);
        Ok(Reloaded::Live)
    }
}
