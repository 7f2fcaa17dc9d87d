//! The plugin author's commands, through the real binary: `scgate check-plugin` on the sample
//! components of `plugins/dist` (built by `plugins/build.sh`, which the test command runs first)
//! and on broken files; `scgate new-plugin`, including a build of the project it writes and a
//! check of the component that build gives — the template builds and loads unchanged.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A component from `plugins/dist`, which must have been built.
fn dist(file: &str) -> PathBuf {
    let path = root().join("plugins/dist").join(file);
    assert!(
        path.is_file(),
        "{} is missing: build the sample plugins first with plugins/build.sh \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Runs `scgate` with `args` in `cwd`, with no `SCGATE_*` variable and quiet logs.
fn scgate_in(cwd: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scgate"));
    command.args(args).current_dir(cwd).env("RUST_LOG", "warn");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SCGATE_") {
            command.env_remove(name);
        }
    }
    command.output().expect("run scgate")
}

fn scgate(args: &[&str]) -> Output {
    scgate_in(root(), args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams if it differs.
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

/// The value of the report line labelled `label`.
fn field<'a>(report: &'a str, label: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| l.strip_prefix(label).filter(|rest| rest.starts_with(' ')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{report}"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn check_plugin_reports_a_handler() {
    let ping = dist("ping.wasm");
    let out = scgate(&["check-plugin", path_str(&ping), "--wasi"]);
    assert_exit(&out, 0);
    let report = stdout(&out);
    assert_eq!(field(&report, "plugin"), "ping");
    assert_eq!(field(&report, "roles"), "handler");
    assert_eq!(field(&report, "events"), "ping");
    assert_eq!(field(&report, "stages"), "(no middleware role)");
    let size = std::fs::metadata(&ping).unwrap().len();
    assert!(
        field(&report, "size").starts_with(&format!("{size} bytes")),
        "{report}"
    );
    let sha = field(&report, "sha256");
    assert!(
        sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
        "{report}"
    );
    assert!(report.contains("scgate:plugin/host@0.1.0"), "{report}");
    assert!(report.contains("wasi:cli/stderr@"), "{report}");
    assert!(field(&report, "load").ends_with("(read, compile, link, init)"));
    assert!(
        report.contains("ok: ping is a valid scgate plugin"),
        "{report}"
    );
}

#[test]
fn check_plugin_without_wasi_names_the_fix() {
    let out = scgate(&["check-plugin", path_str(&dist("ping.wasm"))]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("wasi = true"), "{err}");
    assert!(err.contains("--wasi"), "{err}");
    assert!(err.contains("wasi:cli/environment@"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn check_plugin_reports_middleware_stages() {
    let out = scgate(&[
        "check-plugin",
        path_str(&dist("access-control.wasm")),
        "--wasi",
    ]);
    assert_exit(&out, 0);
    let report = stdout(&out);
    assert_eq!(field(&report, "roles"), "middleware");
    let stages = field(&report, "stages");
    for stage in [
        "handshake-ws",
        "handshake-sc",
        "emit",
        "subscribe",
        "publish-in",
        "publish-out",
        "authenticate",
    ] {
        assert!(stages.contains(stage), "{stage} missing from {stages}");
    }
    assert_eq!(field(&report, "events"), "(no handler role)");
}

#[test]
fn check_plugin_uses_the_config_table() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scgate.toml");
    // `wasi` from the table instead of the flag; the other keys reach `init`; the limits apply.
    std::fs::write(
        &config,
        "[plugins.access-control]\nwasi = true\norder = 3\nforbidden = [\"secret\"]\n",
    )
    .unwrap();
    let ac = dist("access-control.wasm");
    let out = scgate(&["check-plugin", path_str(&ac), "--config", path_str(&config)]);
    assert_exit(&out, 0);
    let report = stdout(&out);
    assert!(field(&report, "wasi").contains("wasi = true"), "{report}");
    assert!(
        field(&report, "config").contains(r#"{"forbidden":["secret"]}"#),
        "{report}"
    );
    assert!(field(&report, "stages").ends_with("(order 3)"), "{report}");

    // A table that init rejects (a key of the wrong type) fails the check.
    std::fs::write(
        &config,
        "[plugins.access-control]\nwasi = true\nforbidden = 3\n",
    )
    .unwrap();
    let out = scgate(&["check-plugin", path_str(&ac), "--config", path_str(&config)]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("failed to start"), "{}", stderr(&out));

    // The size cap of the config applies before anything is compiled.
    std::fs::write(&config, "plugin_max_component_bytes = 1000\n").unwrap();
    let out = scgate(&[
        "check-plugin",
        path_str(&ac),
        "--config",
        path_str(&config),
        "--wasi",
    ]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("plugin_max_component_bytes"),
        "{}",
        stderr(&out)
    );

    // A config that is not valid is a configuration error (2), as for `serve`.
    std::fs::write(&config, "no_such_setting = 1\n").unwrap();
    let out = scgate(&[
        "check-plugin",
        path_str(&ac),
        "--config",
        path_str(&config),
        "--wasi",
    ]);
    assert_exit(&out, 2);
}

#[test]
fn check_plugin_refuses_what_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "not wasm at all").unwrap();
    // A valid core module is still not a component.
    let module = dir.path().join("module.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    for file in [&text, &module] {
        let out = scgate(&["check-plugin", path_str(file), "--wasi"]);
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ") && err.contains("is not a valid component"),
            "{err}"
        );
    }
}

#[test]
fn check_plugin_on_a_missing_file() {
    let out = scgate(&["check-plugin", "no/such/plugin.wasm", "--wasi"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.starts_with("error: cannot read no/such/plugin.wasm"),
        "{err}"
    );
}

#[test]
fn check_plugin_reports_a_failing_init() {
    let out = scgate(&[
        "check-plugin",
        path_str(&dist("fixtures/bad-init.wasm")),
        "--wasi",
    ]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("bad-init refuses to start"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn new_plugin_writes_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("chat-rooms");
    let out = scgate(&[
        "new-plugin",
        "chat-rooms",
        "--lang",
        "rust",
        "--dir",
        path_str(&project),
    ]);
    assert_exit(&out, 0);
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "README.md",
        ".cargo/config.toml",
        "wit/plugin.wit",
    ] {
        assert!(project.join(file).is_file(), "{file} not written");
    }
    let cargo = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(cargo.contains("name = \"chat-rooms\""), "{cargo}");
    assert!(cargo.contains("[workspace]") && cargo.contains("crate-type = [\"cdylib\"]"));
    let lib = std::fs::read_to_string(project.join("src/lib.rs")).unwrap();
    assert!(lib.contains("world: \"handler-plugin\"") && lib.contains("\"chat-rooms\""));
    assert!(!lib.contains("{{"), "a placeholder is left:\n{lib}");
    let wit = std::fs::read_to_string(project.join("wit/plugin.wit")).unwrap();
    assert_eq!(
        wit,
        std::fs::read_to_string(root().join("wit/plugin.wit")).unwrap()
    );
    let config = std::fs::read_to_string(project.join(".cargo/config.toml")).unwrap();
    assert!(config.contains("target = \"wasm32-wasip2\""));

    let steps = stdout(&out);
    for step in [
        "rustup target add wasm32-wasip2",
        "cargo build --release",
        "target/wasm32-wasip2/release/chat_rooms.wasm",
        "[plugins.chat-rooms]",
        "wasi = true",
        "scgate check-plugin",
    ] {
        assert!(steps.contains(step), "{step:?} missing from:\n{steps}");
    }

    // Never over a non-empty folder.
    let again = scgate(&[
        "new-plugin",
        "chat-rooms",
        "--lang",
        "rust",
        "--dir",
        path_str(&project),
    ]);
    assert_exit(&again, 1);
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(project.join("Cargo.toml")).unwrap(),
        cargo
    );
}

#[test]
fn new_plugin_defaults_to_plugins_name_and_accepts_an_empty_dir() {
    let cwd = tempfile::tempdir().unwrap();
    let out = scgate_in(cwd.path(), &["new-plugin", "hello", "--lang", "rust"]);
    assert_exit(&out, 0);
    assert!(cwd.path().join("plugins/hello/src/lib.rs").is_file());

    let empty = cwd.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = scgate(&[
        "new-plugin",
        "hello",
        "--lang",
        "rust",
        "--dir",
        path_str(&empty),
    ]);
    assert_exit(&out, 0);
    assert!(empty.join("Cargo.toml").is_file());
}

#[test]
fn new_plugin_rejects_bad_names_and_languages() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("p");
    for name in ["Hello", "1abc", "a_b", "bad-", "fn"] {
        let out = scgate(&[
            "new-plugin",
            name,
            "--lang",
            "rust",
            "--dir",
            path_str(&target),
        ]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("invalid value"), "{}", stderr(&out));
    }
    let out = scgate(&[
        "new-plugin",
        "hello",
        "--lang",
        "go",
        "--dir",
        path_str(&target),
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("only rust, python, js, c are available in this version"),
        "{}",
        stderr(&out)
    );
    assert!(!target.exists(), "nothing is written after a usage error");
}

/// The generated project builds unchanged, and the gateway accepts what it builds.
#[test]
fn new_plugin_project_builds_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("template-check");
    let out = scgate(&[
        "new-plugin",
        "template-check",
        "--lang",
        "rust",
        "--dir",
        path_str(&project),
    ]);
    assert_exit(&out, 0);

    // Pin the same dependency versions as the sample plugins (cargo drops what this project
    // does not use), so that the shared target folder below reuses the compiled wit-bindgen.
    std::fs::copy(
        root().join("plugins/Cargo.lock"),
        project.join("Cargo.lock"),
    )
    .unwrap();
    let target_dir = root().join("target/plugin-template");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        build.status.success(),
        "the generated project does not build (is the wasm32-wasip2 target installed? \
         plugins/build.sh installs it):\n{}",
        stderr(&build)
    );
    let wasm = target_dir.join("wasm32-wasip2/release/template_check.wasm");
    assert!(wasm.is_file(), "{} not built", wasm.display());

    let out = scgate(&["check-plugin", path_str(&wasm), "--wasi"]);
    assert_exit(&out, 0);
    let report = stdout(&out);
    assert_eq!(field(&report, "roles"), "handler");
    assert_eq!(field(&report, "events"), "template-check");
}
