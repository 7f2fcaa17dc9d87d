//! Item 11: a `scgate.toml` in the working directory was read silently, and the repository's
//! loads the sample app's password-less login plugin. The config file read is now logged at
//! start-up, and the plugin is `demo-login`, which warns on every load that it is a demo.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn the_config_file_read_and_the_demo_login_are_both_announced() {
    // The repository's own folder, as `scripts/run.sh` runs it: its scgate.toml loads
    // plugins/dist (ping, demo-login, access-control).
    let root = env!("CARGO_MANIFEST_DIR");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scgate"))
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--admin-port",
            "0",
        ])
        .args(["--plugins-watch", "false", "--workers", "1"])
        .current_dir(root)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(log.reopen().expect("log"))
        .spawn()
        .expect("spawn scgate");
    let stdout = child.stdout.take().expect("stdout");
    let ready = BufReader::new(stdout).lines().next();
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(log.path()).expect("log");
    assert!(
        matches!(&ready, Some(Ok(line)) if line.starts_with("scgate READY")),
        "{ready:?}\n{log}"
    );
    let config = format!("read config file {root}/scgate.toml (found in the working directory");
    assert!(
        log.contains(&config),
        "no line naming the config file:\n{log}"
    );
    assert!(
        log.contains("demo-login is a demo") && log.contains("no password"),
        "no warning from demo-login:\n{log}"
    );
}
