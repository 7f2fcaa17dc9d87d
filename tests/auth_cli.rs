//! Auth settings at start-up, through the real `scgate serve`: bad keys stop it with exit code 2
//! and a message naming the setting; no key at all starts it with a warning.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};

/// `scgate serve` on a free loopback port, in an empty folder (no `scgate.toml`), with no
/// `SCGATE_*` variables from the test's environment.
fn serve(extra: &[&str], env: &[(&str, &str)]) -> Command {
    let dir = std::env::temp_dir();
    let mut cmd = common::serve_command();
    cmd.current_dir(dir)
        .args(["--plugins-dir", "", "--workers", "1"])
        .args(extra);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("SCGATE_")) {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    cmd
}

fn refused(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit status; stderr: {stderr}"
    );
    assert!(output.stdout.is_empty(), "it must not have started");
    stderr
}

#[test]
fn a_short_key_or_a_bad_key_file_stops_serve_with_exit_code_2() {
    let out = serve(&["--auth-key", "short"], &[]).output().expect("run");
    let stderr = refused(&out);
    assert!(
        stderr.contains("`auth_key` must be at least 32 bytes for HS256")
            && stderr.contains("got 5 bytes")
            && stderr.contains("--auth-key"),
        "{stderr}"
    );
    let out = serve(&[], &[("SCGATE_AUTH_KEY", "also too short")])
        .output()
        .expect("run");
    let stderr = refused(&out);
    assert!(
        stderr.contains("SCGATE_AUTH_KEY"),
        "names the variable: {stderr}"
    );

    let out = serve(&["--auth-algorithm", "RS256"], &[])
        .output()
        .expect("run");
    let stderr = refused(&out);
    assert!(
        stderr.contains("`auth_private_key_file` required when auth_algorithm is RS256 or ES256"),
        "{stderr}"
    );
    let out = serve(&["--auth-algorithm", "none"], &[])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("auth-algorithm"), "{stderr}");
}

#[test]
fn without_a_key_serve_starts_and_warns_that_tokens_die_with_the_process() {
    let mut child = serve(&[], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn scgate");
    let stdout = child.stdout.take().expect("stdout");
    let ready = BufReader::new(stdout).lines().next();
    let _ = child.kill();
    let _ = child.wait();
    let line = ready.expect("no READY line").expect("stdout");
    assert!(line.starts_with("scgate READY listening on "), "{line:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(
        stderr.contains("no auth_key configured")
            && stderr.contains("will not survive a restart or work across nodes"),
        "{stderr}"
    );
}
