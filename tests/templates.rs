//! `scgate new-plugin --lang python|js|c`: the project each language's template writes builds
//! with that language's toolchain, unchanged, and `scgate check-plugin` accepts what it builds
//! (without WASI: these builds import none). The Rust template has its test in `tests/cli.rs`.
//!
//! The toolchains are the ones `scripts/guests.sh` installs: the Python project's build finds
//! `componentize-py` on PATH (plugins/python/.venv/bin), the JavaScript one uses
//! plugins/js/node_modules, and the C one clang-19 from apt.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command`, failing with both output streams if it does not succeed.
fn run(command: &mut Command, what: &str) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}); run scripts/guests.sh first\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes a project for `lang` named `name` into a temporary folder; returns the folder guard
/// and the project path.
fn new_plugin(lang: &str, name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().join(name);
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_scgate"))
            .args(["new-plugin", name, "--lang", lang, "--dir"])
            .arg(&project),
        "scgate new-plugin",
    );
    let steps = String::from_utf8_lossy(&out.stdout);
    assert!(steps.contains(&format!("[plugins.{name}]")), "{steps}");
    assert!(
        !steps.contains("wasi = true"),
        "{lang} needs no WASI:\n{steps}"
    );
    (dir, project)
}

/// `scgate check-plugin` on the built component: a handler for the event `name`.
fn assert_loads(component: &Path, name: &str) {
    assert!(component.is_file(), "{} not built", component.display());
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_scgate"))
            .arg("check-plugin")
            .arg(component)
            .env("RUST_LOG", "warn")
            // Python and JS components take seconds to compile: share the guest tests' cache.
            .env(
                "SCGATE_PLUGIN_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache"),
            ),
        "scgate check-plugin",
    );
    let report = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(field("roles"), "handler", "{report}");
    assert_eq!(field("events"), name, "{report}");
    assert_eq!(field("wasi"), "off (no WASI imports allowed)", "{report}");
}

#[test]
fn python_project_builds_and_loads() {
    let (_dir, project) = new_plugin("python", "py-check");
    let venv_bin = root().join("plugins/python/.venv/bin");
    let path = std::env::join_paths(std::iter::once(venv_bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    run(
        Command::new(project.join("build.sh")).env("PATH", path),
        "the Python project's build.sh",
    );
    assert_loads(&project.join("py-check.wasm"), "py-check");
}

#[test]
fn javascript_project_builds_and_loads() {
    let (_dir, project) = new_plugin("js", "js-check");
    // The pinned componentize-js that scripts/guests.sh installed, instead of `npm install`.
    std::os::unix::fs::symlink(
        root().join("plugins/js/node_modules"),
        project.join("node_modules"),
    )
    .expect("link node_modules");
    run(
        Command::new("npm")
            .args(["run", "--silent", "build"])
            .current_dir(&project),
        "npm run build",
    );
    assert_loads(&project.join("js-check.wasm"), "js-check");
}

#[test]
fn c_project_builds_and_loads() {
    let (_dir, project) = new_plugin("c", "c-check");
    run(
        &mut Command::new(project.join("build.sh")),
        "the C project's build.sh",
    );
    assert_loads(&project.join("c-check.wasm"), "c-check");
}
