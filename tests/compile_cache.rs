//! The on-disk cache of compiled components (`src/plugin/artifact_cache.rs`): a warm entry is
//! used, and every entry that must not be trusted — corrupt, truncated, foreign, another
//! component's, or one wasmtime refuses — is recompiled and rewritten. Then a real restart:
//! `scgate check-plugin` in a fresh process loads the Python and JS guests from a warm cache
//! in well under a second.
//!
//! Each step uses a fresh engine, so the process's in-memory cache (keyed per engine) cannot
//! answer and the disk is what is tested.

use scgate::plugin::artifact_cache::Source;
use scgate::plugin::engine::{compile_cached, new_engine};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A small real component (the Rust `ping`, built by `plugins/build.sh`).
fn ping() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist/ping.wasm");
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: build it with plugins/build.sh", path.display()))
}

/// Compiles `bytes` with a fresh engine through the cache in `dir`; returns where it came from.
fn load(bytes: &[u8], dir: &Path) -> Source {
    let engine = new_engine().expect("engine");
    let (_, source) = compile_cached(&engine, bytes, Some(dir)).expect("compile");
    source
}

/// The one entry in `dir`.
fn entry(dir: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().expect("one entry")
}

/// Rewrites the entry with `change`, then checks the next load recompiles and rewrites a
/// valid entry that the load after uses.
fn assert_recompiled(bytes: &[u8], dir: &Path, what: &str, change: impl FnOnce(&mut Vec<u8>)) {
    let path = entry(dir);
    let mut file = std::fs::read(&path).expect("read entry");
    change(&mut file);
    std::fs::write(&path, &file).expect("write entry");
    assert_eq!(
        load(bytes, dir),
        Source::Compiled,
        "{what}: must be recompiled"
    );
    assert_ne!(
        std::fs::read(&path).expect("entry"),
        file,
        "{what}: rewritten"
    );
    assert_eq!(
        load(bytes, dir),
        Source::Cache,
        "{what}: the rewritten entry is used"
    );
}

#[test]
fn a_warm_entry_is_used_and_an_untrustworthy_one_recompiled() {
    let bytes = ping();
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path().join("nested/cache"); // created on first write
    assert_eq!(load(&bytes, &dir), Source::Compiled);
    let name = entry(&dir);
    let name = name.file_name().and_then(|n| n.to_str()).expect("name");
    let hash = format!("{:x}", Sha256::digest(&bytes));
    assert!(
        name.starts_with(&hash) && name.ends_with(".cwasm"),
        "{name}"
    );
    assert_eq!(load(&bytes, &dir), Source::Cache);

    // Header: magic (16 bytes), component SHA-256, artifact SHA-256, then the artifact.
    assert_recompiled(&bytes, &dir, "one flipped artifact byte", |f| {
        let at = f.len() / 2;
        f[at] ^= 0x40;
    });
    assert_recompiled(&bytes, &dir, "truncated", |f| f.truncate(f.len() - 100));
    assert_recompiled(&bytes, &dir, "shorter than a header", |f| f.truncate(10));
    assert_recompiled(&bytes, &dir, "empty", Vec::clear);
    assert_recompiled(&bytes, &dir, "another format", |f| f[0] = b'X');
    assert_recompiled(&bytes, &dir, "another component's", |f| f[16] ^= 1);
    // A checksum that matches, over bytes wasmtime did not write: what an entry of another
    // wasmtime version or engine configuration looks like to the checksum.
    assert_recompiled(&bytes, &dir, "not a wasmtime artifact", |f| {
        let junk = b"\x7fELF but not really".repeat(64);
        f.truncate(48);
        f.extend_from_slice(&Sha256::digest(&junk));
        f.extend_from_slice(&junk);
    });
}

#[test]
fn an_unwritable_cache_costs_a_compile_not_the_plugin() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    // A cache "folder" that is a file: neither readable as a folder nor creatable.
    assert_eq!(load(&ping(), file.path()), Source::Compiled);
    assert_eq!(load(&ping(), file.path()), Source::Compiled);
}

/// `scgate check-plugin FILE` in a fresh process with the cache in `dir`; returns its `load`
/// time.
fn check_plugin_load_time(file: &Path, dir: &Path) -> Duration {
    let out = Command::new(env!("CARGO_BIN_EXE_scgate"))
        .arg("check-plugin")
        .arg(file)
        .env("SCGATE_PLUGIN_CACHE_DIR", dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run scgate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `load       123.4 ms (read, compile, link, init)`
    let ms: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("load"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no load time in:\n{stdout}"));
    Duration::from_secs_f64(ms / 1000.0)
}

#[test]
fn a_restart_with_a_warm_cache_loads_python_and_js_guests_in_well_under_a_second() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist");
    // The guest tests' cache: warm already when they ran first, else filled here.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache");
    for file in ["python/ping.wasm", "js/ping.wasm"] {
        let file = dist.join(file);
        assert!(
            file.is_file(),
            "{} is missing: run scripts/guests.sh",
            file.display()
        );
        check_plugin_load_time(&file, &dir); // fills the cache if it was cold
        let warm = check_plugin_load_time(&file, &dir);
        // Measured 0.1–0.3 s here (debug build, optimised dependencies), against 5–75 s to
        // compile; a second is far from both.
        assert!(
            warm < Duration::from_secs(1),
            "{}: {warm:?} from a warm cache",
            file.display()
        );
    }
}
