//! The watcher thread: owns the [`Loader`] once the gateway runs, and reloads plugins when their
//! files change (debounced), when SIGHUP brings new settings, and when `--dev` built a new
//! component.

use super::loader::{absolute, Loader};
use crate::config::Settings;
use anyhow::Context;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Quiet time a file must have before it is loaded: long enough for a copy or an editor's
/// write-and-rename to finish (their events come microseconds to milliseconds apart), short
/// enough that a save goes live well within a second. A file still being written after it is
/// loaded at worst fails to compile (the live version keeps serving) and loads on its next event.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// What the watcher thread is asked to do.
pub(super) enum Message {
    /// A file event from `notify`.
    Fs(notify::Result<notify::Event>),
    /// New settings and plugin tables (SIGHUP).
    Reconfigure(Box<(Settings, toml::Table)>),
    /// `--dev` built plugin `name`: install `artifact` where the plugin is loaded from.
    Install { name: String, artifact: PathBuf },
    /// Stop the thread (the gateway is shutting down).
    Stop,
}

/// The running watcher thread; dropping it stops the thread.
pub struct Watcher {
    // std mpsc: the notify thread, SIGHUP and the dev builder all send; the watcher thread is
    // the one receiver. Unbounded, but each message is small and drained at once, and pending
    // paths are deduplicated, so it grows only with the number of distinct files touched.
    tx: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts the thread; with `files`, it watches the plugin folders for changes. The folders
    /// are watched before this returns, so any change made after it is seen.
    pub fn spawn(mut loader: Loader, files: bool) -> anyhow::Result<Watcher> {
        let (tx, rx) = mpsc::channel();
        let mut fs = if files {
            let events = tx.clone();
            let watcher = notify::recommended_watcher(move |event| {
                let _ = events.send(Message::Fs(event));
            })
            .context("cannot watch the plugin folders")?;
            Some(watcher)
        } else {
            None
        };
        let mut watched = Vec::new();
        if let Some(fs) = fs.as_mut() {
            rewatch(fs, &mut watched, loader.watched_dirs());
            // A change between the start-up load and the watch is caught here (unchanged
            // plugins are skipped by their fingerprint).
            loader.rescan();
        }
        let thread = std::thread::Builder::new()
            .name("scgate-plugins".into())
            .spawn(move || run(loader, fs, watched, rx))
            .context("cannot start the plugin watcher thread")?;
        Ok(Watcher {
            tx,
            thread: Some(thread),
        })
    }

    /// A sender for other threads (the dev builder).
    pub(super) fn sender(&self) -> mpsc::Sender<Message> {
        self.tx.clone()
    }

    /// Applies new settings and plugin tables (SIGHUP).
    pub fn reconfigure(&self, settings: Settings, tables: toml::Table) {
        let _ = self
            .tx
            .send(Message::Reconfigure(Box::new((settings, tables))));
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.tx.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether an event can mean new content: anything but reads and opens (the loader's own reads
/// of a plugin, and cargo's of a workspace, must not look like changes).
pub(super) fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
        _ => true,
    }
}

fn run(
    mut loader: Loader,
    mut fs: Option<notify::RecommendedWatcher>,
    mut watched: Vec<PathBuf>,
    rx: mpsc::Receiver<Message>,
) {
    // Each touched path and when it was last touched.
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    loop {
        let next_due = pending.values().min().map(|t| *t + DEBOUNCE);
        let message = match next_due {
            Some(due) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match message {
            Ok(Message::Fs(Ok(event))) if changes_content(&event.kind) => {
                tracing::trace!(kind = ?event.kind, paths = ?event.paths, "file event");
                let now = Instant::now();
                for path in event.paths {
                    pending.insert(path, now);
                }
            }
            Ok(Message::Fs(Ok(_))) => {}
            Ok(Message::Fs(Err(err))) => tracing::warn!("watching the plugin folders: {err}"),
            Ok(Message::Reconfigure(new)) => {
                let (settings, tables) = *new;
                loader.reconfigure(settings, tables);
                if let Some(fs) = fs.as_mut() {
                    rewatch(fs, &mut watched, loader.watched_dirs());
                }
            }
            Ok(Message::Install { name, artifact }) => install(&mut loader, &name, &artifact),
            Ok(Message::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        let due: HashSet<PathBuf> = pending
            .iter()
            .filter(|(_, at)| **at + DEBOUNCE <= now)
            .map(|(path, _)| path.clone())
            .collect();
        if !due.is_empty() {
            tracing::trace!(paths = ?due, "quiet for {DEBOUNCE:?}: syncing");
            pending.retain(|path, _| !due.contains(path));
            loader.files_changed(&due);
        }
    }
}

/// Watches exactly `dirs` (each non-recursively), logging the ones that cannot be watched.
fn rewatch(fs: &mut notify::RecommendedWatcher, watched: &mut Vec<PathBuf>, dirs: Vec<PathBuf>) {
    for dir in watched.iter().filter(|d| !dirs.contains(d)) {
        let _ = fs.unwatch(dir);
    }
    for dir in dirs.iter().filter(|d| !watched.contains(d)) {
        match fs.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => tracing::info!("watching {} for plugin changes", dir.display()),
            Err(err) => tracing::warn!(
                "cannot watch {} for plugin changes (create it and send SIGHUP): {err}",
                dir.display()
            ),
        }
    }
    *watched = dirs;
}

/// Copies a component built by `--dev` to where plugin `name` is loaded from (through a
/// temporary file and a rename, so no reader sees half a file), then reloads it.
fn install(loader: &mut Loader, name: &str, artifact: &Path) {
    let Some(destination) = loader.destination(name) else {
        tracing::info!(
            plugin = name,
            "built {}; not installed: no {name}.wasm in plugins_dir and no [plugins.{name}] table",
            artifact.display()
        );
        return;
    };
    let mut temporary = destination.clone().into_os_string();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let copied =
        std::fs::copy(artifact, &temporary).and_then(|_| std::fs::rename(&temporary, &destination));
    match copied {
        Ok(()) => {
            tracing::info!(
                plugin = name,
                "installed {} as {}",
                artifact.display(),
                destination.display()
            );
            loader.files_changed(&HashSet::from([absolute(&destination)]));
        }
        Err(err) => {
            let _ = std::fs::remove_file(&temporary);
            tracing::error!(
                plugin = name,
                "cannot install {} as {}: {err}",
                artifact.display(),
                destination.display()
            );
        }
    }
}
