//! The live set of plugins, shared by every worker and replaced as a whole when a plugin is
//! loaded, reloaded or removed, and the status of every plugin the gateway has seen.
//!
//! Workers never wait on it: each compares the generation (one atomic load) at every hook call
//! and, when it moved, takes the new set and starts instances of whatever changed. A reload is
//! compiled, linked and initialised by the loader before [`Registry::install`] makes it visible,
//! so a version that fails never reaches a worker.

use super::component::{LoadedPlugin, PluginConfig, PluginStats};
use super::host::Limits;
use crate::date::iso_system_time;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// Everything that decides how a plugin behaves: the same fingerprint means a reload would
/// change nothing, so it is skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub version: String,
    pub config: PluginConfig,
    pub limits: Limits,
}

/// The plugins workers run, in middleware order.
pub type PluginSet = Arc<[Arc<LoadedPlugin>]>;

/// What the gateway knows about one plugin name.
struct Entry {
    path: PathBuf,
    live: Option<Arc<LoadedPlugin>>,
    fingerprint: Option<Fingerprint>,
    live_since: Option<SystemTime>,
    /// Versions that went live (the first load included).
    loads: u64,
    /// Attempts that never went live (compile, link, init or build errors).
    failed_loads: u64,
    last_error: Option<(SystemTime, String)>,
    /// Kept across versions, so the counts cover the plugin's whole life in this process.
    stats: Arc<PluginStats>,
    /// Unloaded because its file went away (or its table did).
    removed: bool,
}

impl Entry {
    fn new(path: &Path) -> Self {
        Entry {
            path: path.to_owned(),
            live: None,
            fingerprint: None,
            live_since: None,
            loads: 0,
            failed_loads: 0,
            last_error: None,
            stats: Arc::default(),
            removed: false,
        }
    }
}

struct State {
    set: PluginSet,
    entries: BTreeMap<String, Entry>,
}

/// The live plugin set and the status of every plugin.
pub struct Registry {
    /// Bumped (under the state lock) each time the set changes; workers read it without the lock
    /// at every hook call. Release on write and Acquire on read, so a worker that sees the new
    /// number also sees the set stored before it.
    generation: AtomicU64,
    /// A std Mutex: held only to read or replace the set and status entries, never across a
    /// compile, a guest call or an await.
    state: Mutex<State>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            generation: AtomicU64::new(0),
            state: Mutex::new(State {
                set: Arc::new([]),
                entries: BTreeMap::new(),
            }),
        }
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent (each update is one insert).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The set's current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current set and its generation.
    pub fn snapshot(&self) -> (u64, PluginSet) {
        let state = self.lock();
        (self.generation.load(Ordering::Acquire), state.set.clone())
    }

    /// The counts to give a new version of `name`.
    pub fn stats(&self, name: &str) -> Arc<PluginStats> {
        self.lock()
            .entries
            .get(name)
            .map(|e| e.stats.clone())
            .unwrap_or_default()
    }

    /// The fingerprint of the live version of `name`, if one is live.
    pub fn fingerprint(&self, name: &str) -> Option<Fingerprint> {
        let state = self.lock();
        let entry = state.entries.get(name)?;
        entry.live.as_ref().and(entry.fingerprint.clone())
    }

    /// Names with a live version.
    pub fn live_names(&self) -> Vec<String> {
        self.lock()
            .entries
            .iter()
            .filter(|(_, e)| e.live.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Makes `plugin` the live version of its name.
    pub fn install(&self, path: &Path, plugin: LoadedPlugin, fingerprint: Fingerprint) {
        let name = plugin.name.to_string();
        let mut state = self.lock();
        let entry = state
            .entries
            .entry(name)
            .or_insert_with(|| Entry::new(path));
        entry.path = path.to_owned();
        entry.stats = plugin.stats.clone();
        entry.live = Some(Arc::new(plugin));
        entry.fingerprint = Some(fingerprint);
        entry.live_since = Some(SystemTime::now());
        entry.loads += 1;
        entry.last_error = None;
        entry.removed = false;
        self.publish(&mut state);
    }

    /// Records a version of `name` that did not go live; the live one (if any) keeps serving.
    pub fn failed(&self, name: &str, path: &Path, error: String) {
        let mut state = self.lock();
        let entry = state
            .entries
            .entry(name.to_owned())
            .or_insert_with(|| Entry::new(path));
        entry.failed_loads += 1;
        entry.last_error = Some((SystemTime::now(), error));
    }

    /// Unloads `name`: its events become unhandled and its middleware stops running.
    pub fn remove(&self, name: &str) {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(name) else {
            return;
        };
        if entry.removed {
            return;
        }
        entry.live = None;
        entry.fingerprint = None;
        entry.live_since = None;
        entry.removed = true;
        self.publish(&mut state);
    }

    /// Rebuilds the set from the live entries and bumps the generation.
    fn publish(&self, state: &mut State) {
        let mut set: Vec<Arc<LoadedPlugin>> = state
            .entries
            .values()
            .filter_map(|e| e.live.clone())
            .collect();
        set.sort_by(|a, b| (a.config.order, &a.name).cmp(&(b.config.order, &b.name)));
        state.set = set.into();
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The status report (`GET /plugins`, `scgate plugins`).
    pub fn status(&self) -> Value {
        let state = self.lock();
        let plugins: Vec<Value> = state
            .entries
            .iter()
            .map(|(name, e)| {
                let live = e.live.as_deref();
                let state = match (live, e.removed) {
                    (Some(_), _) => "live",
                    (None, true) => "removed",
                    (None, false) => "failed",
                };
                json!({
                    "name": name,
                    "file": e.path.display().to_string(),
                    "state": state,
                    "version": live.map(|p| p.version.clone()),
                    "live_since": e.live_since.map(iso_system_time),
                    "loads": e.loads,
                    "failed_loads": e.failed_loads,
                    "events": live.map(|p| p.registration.events.clone()).unwrap_or_default(),
                    "stages": live
                        .map(|p| p.registration.stages.iter().map(|s| super::worker_set::from_wit(*s).name()).collect::<Vec<_>>())
                        .unwrap_or_default(),
                    "lifecycle": live.is_some_and(|p| p.lifecycle.is_some()),
                    "calls": e.stats.calls.load(Ordering::Relaxed),
                    "errors": e.stats.errors.load(Ordering::Relaxed),
                    "last_error": e.last_error.as_ref().map(|(at, message)| json!({
                        "at": iso_system_time(*at),
                        "message": message,
                    })),
                })
            })
            .collect();
        json!({ "generation": self.generation(), "plugins": plugins })
    }
}
