//! The on-disk cache of compiled components: Python and JavaScript components (12–18 MB) take
//! seconds to compile, so a restart loads what an earlier run compiled instead.
//!
//! An entry is one file, `<component sha256>-<engine key>.cwasm`, where the engine key hashes
//! everything wasmtime says makes compiled code incompatible (its version, the target, the
//! compiler flags, tunables and wasm features: [`Engine::precompile_compatibility_hash`]). The
//! file holds a header — a magic line, the component's SHA-256 and the artifact's SHA-256 —
//! followed by the artifact that [`Component::serialize`] wrote.
//!
//! An entry is used only when the magic, both hashes and wasmtime's own compatibility check all
//! pass. Anything else — a truncated, corrupt or foreign file, an entry from another wasmtime
//! or engine configuration — is a miss: it is removed, the component is compiled again and the
//! entry rewritten. The cache is an optimisation only: failing to read or write it costs a
//! compile and a warning, never a plugin.
//!
//! Trust: the checksums catch corruption, not an attacker who can write there (they could write
//! a matching checksum too). So the folder is created readable by its owner only (0700) and
//! entries written 0600; a folder or an entry that is not owned by the user running the
//! gateway, or that others may write, is not used (the plugin is compiled, and the log says
//! why), and an entry that is not a plain file (a symbolic link) is not read.

// The one module allowed `unsafe`, for `Component::deserialize`: see `read`.
#![allow(unsafe_code)]

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// First bytes of every entry: names the format, so a file in any other layout (or a later
/// version of this one) is a miss, never misread.
const MAGIC: &[u8; 16] = b"scgate-cwasm-v1\n";
/// Bytes before the artifact: the magic, the component's SHA-256, the artifact's SHA-256.
const HEADER_BYTES: usize = MAGIC.len() + 32 + 32;
/// Permission bits that let users other than the owner write.
const WRITABLE_BY_OTHERS: u32 = 0o022;

/// Where an entry came from, for logs and `check-plugin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Compiled in this process (and written to the cache if there is one).
    Compiled,
    /// Loaded from a valid cache entry.
    Cache,
}

/// A folder of compiled components for one engine.
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

impl ArtifactCache {
    /// The cache in `dir` for artifacts compiled by `engine`; the folder is created on first write.
    pub fn new(dir: &Path, engine: &Engine) -> ArtifactCache {
        // `DefaultHasher::new()` has fixed keys: stable for a given build of scgate, which is
        // all a key needs (another build at worst misses and recompiles; wasmtime checks
        // compatibility as well).
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ArtifactCache {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    /// The file that holds (or will hold) the artifact of the component whose hash is `key`.
    pub fn entry_path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex(key), self.engine_key))
    }

    /// The component with hash `key` from the cache, or compiled from `bytes` and then cached.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        key: &[u8; 32],
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, Source)> {
        if let Err(why) = self.folder_trusted() {
            tracing::warn!(folder = %self.dir.display(), "compiled-plugin cache not used: {why}");
            return Ok((Component::new(engine, bytes)?, Source::Compiled));
        }
        let path = self.entry_path(key);
        match self.read(engine, key, &path) {
            Ok(Some(component)) => return Ok((component, Source::Cache)),
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(entry = %path.display(), "compiled-plugin cache entry not used, recompiling: {why}");
                // Best effort: a file that cannot be removed is overwritten below anyway.
                let _ = std::fs::remove_file(&path);
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(why) = self.write(key, &component, &path) {
            tracing::warn!(entry = %path.display(), "cannot write the compiled-plugin cache: {why:#}");
        }
        Ok((component, Source::Compiled))
    }

    /// A valid entry's component; `Ok(None)` when there is no entry; `Err(why)` for an entry
    /// that must not be used.
    fn read(
        &self,
        engine: &Engine,
        key: &[u8; 32],
        path: &Path,
    ) -> Result<Option<Component>, String> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_file() => return Err("not a plain file".into()),
            Ok(meta) => trusted(&meta)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read it: {e}")),
        }
        let file = match std::fs::read(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read it: {e}")),
        };
        if file.len() < HEADER_BYTES || &file[..MAGIC.len()] != MAGIC {
            return Err("not an scgate cache entry (bad header)".into());
        }
        let (component_hash, rest) = file[MAGIC.len()..].split_at(32);
        let (artifact_hash, artifact) = rest.split_at(32);
        if component_hash != key {
            return Err("it belongs to another component".into());
        }
        if Sha256::digest(artifact)[..] != *artifact_hash {
            return Err("corrupt: the artifact does not match its checksum".into());
        }
        // SAFETY: `deserialize` requires bytes that `Component::serialize` produced and that
        // were not modified since. These bytes are exactly what `write` stored (the SHA-256
        // over them matches the one written beside them), the entry is named and checked for
        // this component's hash, and wasmtime itself refuses an artifact from another wasmtime
        // version or engine configuration (an error, which makes this entry a miss).
        let component = unsafe { Component::deserialize(engine, artifact) }
            .map_err(|e| format!("wasmtime refused it (stale or incompatible): {e}"))?;
        Ok(Some(component))
    }

    /// Writes the entry atomically: a temporary file in the same folder, renamed over `path`,
    /// so a reader (another worker process, a crash mid-write) never sees half an entry.
    fn write(&self, key: &[u8; 32], component: &Component, path: &Path) -> anyhow::Result<()> {
        let artifact = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
        // Folders it creates are the owner's alone (an existing one was checked already).
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let tmp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            hex(key),
            std::process::id(),
            rand::random::<u64>()
        ));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(key)?;
            f.write_all(&Sha256::digest(&artifact))?;
            f.write_all(&artifact)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(result?)
    }
}

impl ArtifactCache {
    /// Whether the folder may hold entries: it is missing (it will be created 0700), or it is
    /// a folder the process's user owns and no one else may write.
    fn folder_trusted(&self) -> Result<(), String> {
        match std::fs::metadata(&self.dir) {
            Ok(meta) if !meta.is_dir() => Err("not a folder".into()),
            Ok(meta) => trusted(&meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot read it: {e}")),
        }
    }
}

/// A folder or entry is trusted when the process's user owns it and no one else may write it.
fn trusted(meta: &std::fs::Metadata) -> Result<(), String> {
    let user = rustix::process::geteuid().as_raw();
    if meta.uid() != user {
        return Err(format!(
            "owned by user {}, not by this process's user {user}",
            meta.uid()
        ));
    }
    if meta.mode() & WRITABLE_BY_OTHERS != 0 {
        return Err(format!(
            "writable by other users (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Lower-case hex of a hash.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
