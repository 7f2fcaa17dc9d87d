//! Item 7: the compile cache was created 0755 with entries 0644, and an entry was loaded (with
//! `unsafe` deserialisation) after an unkeyed SHA-256 check that anyone able to write the entry
//! could also forge. The folder is now created 0700 and entries 0600, and a folder or entry not
//! owned by the process's user, writable by others, or (an entry) not a plain file is not used.

use scgate::plugin::artifact_cache::Source;
use scgate::plugin::engine::{compile_cached, new_engine};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn ping() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist/ping.wasm");
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: build it with plugins/build.sh", path.display()))
}

/// Compiles with a fresh engine through the cache in `dir`; returns where it came from.
fn load(bytes: &[u8], dir: &Path) -> Source {
    let engine = new_engine().expect("engine");
    compile_cached(&engine, bytes, Some(dir))
        .expect("compile")
        .1
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("metadata").mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn entry(dir: &Path) -> PathBuf {
    let mut entries = std::fs::read_dir(dir).expect("cache dir");
    entries.next().expect("an entry").expect("entry").path()
}

#[test]
fn the_cache_is_private_and_what_others_could_have_written_is_not_used() {
    let bytes = ping();
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("outer/cache");
    assert_eq!(load(&bytes, &dir), Source::Compiled);
    assert_eq!(
        mode(&root.path().join("outer")),
        0o700,
        "created folders are private"
    );
    assert_eq!(mode(&dir), 0o700);
    let path = entry(&dir);
    assert_eq!(mode(&path), 0o600, "entries are private");
    assert_eq!(load(&bytes, &dir), Source::Cache);

    // An entry others may write: recompiled, and rewritten private.
    set_mode(&path, 0o666);
    assert_eq!(load(&bytes, &dir), Source::Compiled);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(load(&bytes, &dir), Source::Cache);

    // A folder others may write: not used at all, neither read nor written.
    set_mode(&dir, 0o777);
    let before = std::fs::metadata(&path)
        .expect("entry")
        .modified()
        .expect("mtime");
    assert_eq!(load(&bytes, &dir), Source::Compiled);
    let after = std::fs::metadata(&path)
        .expect("entry")
        .modified()
        .expect("mtime");
    assert_eq!(before, after, "an untrusted folder is not written");
    set_mode(&dir, 0o700);
    assert_eq!(load(&bytes, &dir), Source::Cache);

    // An entry that is a symbolic link (to a valid entry elsewhere) is not read.
    let elsewhere = root.path().join("elsewhere.cwasm");
    std::fs::rename(&path, &elsewhere).expect("move entry");
    std::os::unix::fs::symlink(&elsewhere, &path).expect("symlink");
    assert_eq!(load(&bytes, &dir), Source::Compiled);
    assert!(
        std::fs::symlink_metadata(&path).expect("entry").is_file(),
        "rewritten as a file"
    );

    // An entry owned by another user (only root can make one).
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).expect("chown");
        assert_eq!(load(&bytes, &dir), Source::Compiled);
        assert_eq!(
            std::fs::metadata(&path).expect("entry").uid(),
            0,
            "rewritten as ours"
        );
    }
}
