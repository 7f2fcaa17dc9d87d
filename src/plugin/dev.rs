//! `scgate serve --dev`: watches the source of Rust plugins and, when a file of a crate changes,
//! rebuilds that crate (`cargo build --release --target wasm32-wasip2`) and hands the new
//! component to the watcher thread, which installs and reloads it — the edit-save-see loop.

use super::registry::Registry;
use super::watch::Message;
use anyhow::Context;
use notify::{RecursiveMode, Watcher as _};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Quiet time after the last source change before building: editors and formatters write a
/// save as several events, and `cargo fmt` on save rewrites files right after the editor.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The target every scgate plugin is built for (a cdylib there is a component).
const TARGET: &str = "wasm32-wasip2";

/// Lines of a failed build's output kept in the log and the status report: the compiler's
/// first error and its context, without flooding either.
const ERROR_LINES: usize = 40;

enum DevMessage {
    Fs(notify::Result<notify::Event>),
    Stop,
}

/// The running dev builder; dropping it stops the thread (after a build in progress).
pub struct DevBuilder {
    // std mpsc: the notify thread and Drop send; the builder thread receives. Unbounded, but
    // drained between builds and deduplicated into a set of crates.
    tx: mpsc::Sender<DevMessage>,
    thread: Option<JoinHandle<()>>,
}

impl DevBuilder {
    /// Watches `src` recursively and builds into the watcher behind `install`.
    pub(super) fn spawn(
        src: &Path,
        registry: Arc<Registry>,
        install: mpsc::Sender<Message>,
    ) -> anyhow::Result<DevBuilder> {
        let src = super::loader::absolute(src);
        if !src.is_dir() {
            anyhow::bail!(
                "--dev: the plugin source folder {} does not exist (dev_src)",
                src.display()
            );
        }
        let (tx, rx) = mpsc::channel();
        let events = tx.clone();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = events.send(DevMessage::Fs(event));
        })
        .context("--dev: cannot watch the plugin sources")?;
        watcher
            .watch(&src, RecursiveMode::Recursive)
            .with_context(|| format!("--dev: cannot watch {}", src.display()))?;
        tracing::info!(
            "--dev: rebuilding Rust plugins under {} when their source changes",
            src.display()
        );
        let thread = std::thread::Builder::new()
            .name("scgate-dev".into())
            .spawn(move || {
                // The watcher lives as long as the thread.
                let _watcher = watcher;
                run(&src, &registry, &install, &rx);
            })
            .context("cannot start the dev builder thread")?;
        Ok(DevBuilder {
            tx,
            thread: Some(thread),
        })
    }
}

impl Drop for DevBuilder {
    fn drop(&mut self) {
        let _ = self.tx.send(DevMessage::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    src: &Path,
    registry: &Registry,
    install: &mpsc::Sender<Message>,
    rx: &mpsc::Receiver<DevMessage>,
) {
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    loop {
        let message = match pending.values().max() {
            Some(last) => {
                rx.recv_timeout((*last + DEBOUNCE).saturating_duration_since(Instant::now()))
            }
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match message {
            Ok(DevMessage::Fs(Ok(event))) if super::watch::changes_content(&event.kind) => {
                for path in event.paths.into_iter().filter(|p| is_source(src, p)) {
                    pending.insert(path, Instant::now());
                }
            }
            // Reads: cargo itself opens every manifest of the workspace while it builds.
            Ok(DevMessage::Fs(Ok(_))) => {}
            Ok(DevMessage::Fs(Err(err))) => tracing::warn!("--dev: watching sources: {err}"),
            Ok(DevMessage::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let quiet = pending
            .values()
            .max()
            .is_some_and(|last| *last + DEBOUNCE <= Instant::now());
        if !quiet {
            continue;
        }
        let crates: BTreeSet<PathBuf> = pending
            .drain()
            .filter_map(|(path, _)| crate_of(src, &path))
            .collect();
        for dir in crates {
            match build(&dir) {
                Ok((name, artifact)) => {
                    let _ = install.send(Message::Install { name, artifact });
                }
                Err((name, err)) => {
                    tracing::error!(plugin = %name, "--dev: build failed; the live version keeps serving:\n{err}");
                    registry.failed(&name, &dir, format!("build failed: {err}"));
                }
            }
        }
    }
}

/// Whether a changed path is plugin source: Rust, manifests, WIT; not build output or hidden files.
fn is_source(src: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(src) else {
        return false;
    };
    let skipped = relative.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c == "target" || c == "dist" || c.starts_with('.')
    });
    let source = path
        .extension()
        .is_some_and(|e| e == "rs" || e == "toml" || e == "wit" || e == "lock");
    !skipped && source
}

/// The crate a source file belongs to: the nearest folder at or under `src` whose Cargo.toml
/// has a `[package]`.
fn crate_of(src: &Path, path: &Path) -> Option<PathBuf> {
    let mut dir = path.parent()?;
    loop {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|text| text.contains("[package]")) {
            return Some(dir.to_owned());
        }
        if dir == src {
            return None;
        }
        dir = dir.parent()?;
    }
}

/// The `name` of the package whose Cargo.toml is in `dir`.
fn package_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = text.parse().ok()?;
    Some(manifest.get("package")?.get("name")?.as_str()?.to_owned())
}

/// Builds the crate in `dir`; returns its package name and component, or the name (the folder
/// name if the manifest cannot be read) and the end of cargo's output.
fn build(dir: &Path) -> Result<(String, PathBuf), (String, String)> {
    let name = package_name(dir).unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let started = Instant::now();
    tracing::info!(plugin = %name, "--dev: building {}", dir.display());
    // Run in the crate's folder, so its .cargo/config.toml applies and only it is built.
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => return Err((name, format!("cannot run cargo: {err}"))),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(ERROR_LINES)..].join("\n");
        return Err((name, tail));
    }
    let manifest = dir.join("Cargo.toml");
    match artifact(&String::from_utf8_lossy(&output.stdout), &manifest) {
        Some(artifact) => {
            tracing::info!(plugin = %name, "--dev: built in {:?}", started.elapsed());
            Ok((name, artifact))
        }
        None => Err((
            name,
            format!(
                "cargo built no .wasm for {}: is it a cdylib?",
                manifest.display()
            ),
        )),
    }
}

/// The `.wasm` cargo reported for the package of `manifest`, from its JSON messages.
fn artifact(messages: &str, manifest: &Path) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["manifest_path"].as_str().map(Path::new) == Some(manifest))
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_rust_manifests_and_wit_outside_build_output() {
        let src = Path::new("/p");
        assert!(is_source(src, Path::new("/p/ping/src/lib.rs")));
        assert!(is_source(src, Path::new("/p/ping/Cargo.toml")));
        assert!(is_source(src, Path::new("/p/ping/wit/plugin.wit")));
        assert!(!is_source(src, Path::new("/p/target/release/build/x.rs")));
        assert!(!is_source(src, Path::new("/p/dist/ping.wasm")));
        assert!(!is_source(src, Path::new("/p/ping/.git/HEAD")));
        assert!(!is_source(src, Path::new("/p/ping/src/lib.rs.swp")));
        assert!(!is_source(src, Path::new("/elsewhere/lib.rs")));
    }

    #[test]
    fn the_artifact_is_the_wasm_of_the_package() {
        let messages = r#"{"reason":"compiler-artifact","manifest_path":"/p/other/Cargo.toml","filenames":["/t/other.wasm"]}
{"reason":"compiler-artifact","manifest_path":"/p/ping/Cargo.toml","filenames":["/t/ping.d","/t/ping.wasm"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            artifact(messages, Path::new("/p/ping/Cargo.toml")),
            Some(PathBuf::from("/t/ping.wasm"))
        );
        assert_eq!(artifact(messages, Path::new("/p/none/Cargo.toml")), None);
    }
}
