//! Hot reload: plugins replaced, broken, renamed, deleted and re-added in a running gateway's
//! plugins folder, under load, with real sockets; the status report (`GET /plugins` and
//! `scgate plugins`).
//!
//! Fixtures (from `plugins/build.sh`): `versioned-a.wasm` and `versioned-b.wasm` answer the
//! event `version` with `{"version": "a"|"b", "tag": <config tag>, "calls": n}`.

mod common;

use common::{eventually, settings, Client, STEP};
use scgate::config::Settings;
use scgate::plugin::Plugins;
use scgate::ServerHandle;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The bound on how soon a saved plugin answers on every worker.
const SWITCH_WITHIN: Duration = Duration::from_secs(1);

/// One test at a time: the load test saturates this machine's two cores, which would make the
/// others' timings (and its own) meaningless. A tokio Mutex, as the guard is held across awaits.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn dist(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/dist")
        .join(file)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = dist(&format!("fixtures/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run plugins/build.sh first",
            path.display()
        )
    })
}

/// A gateway whose plugins folder the test edits while it runs.
struct Live {
    handle: Option<ServerHandle>,
    plugins: Option<Plugins>,
    dir: TempDir,
}

impl Live {
    /// Starts with `versioned.wasm` = version "a" (wasi on), watching the folder.
    fn start(workers: usize) -> Live {
        // The gateway's log in the test's output (shown for a failing test); TEST_LOG filters.
        let filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "scgate=info".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("versioned.wasm"), fixture("versioned-a")).unwrap();
        let mut settings = Settings {
            workers,
            ping_timeout_ms: 60_000,
            shutdown_grace_ms: 100,
            ..settings()
        };
        settings.plugins_dir = dir.path().to_str().unwrap().to_owned();
        let tables: toml::Table = "[versioned]\nwasi = true\n[ping]\nwasi = true\n"
            .parse()
            .unwrap();
        let mut plugins = Plugins::load(&settings, &tables).expect("plugins load");
        plugins.watch(true, None).expect("watch");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let admin = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let handle =
            scgate::server::start_with_admin(settings, listener, Some(admin), plugins.hooks())
                .expect("start");
        Live {
            handle: Some(handle),
            plugins: Some(plugins),
            dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.handle.as_ref().unwrap().local_addr()
    }

    fn admin_addr(&self) -> SocketAddr {
        self.handle.as_ref().unwrap().admin_addr().unwrap()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The status entry of plugin `name`.
    fn status(&self, name: &str) -> Value {
        let report = self.plugins.as_ref().unwrap().status();
        report["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    async fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().await;
        }
        drop(self.plugins.take());
    }
}

/// Invokes `version` and returns the reply's data (panics on an error reply or no reply).
async fn version(client: &mut Client) -> Value {
    let reply = client.invoke("version", json!(null)).await;
    assert!(reply.get("error").is_none(), "error reply: {reply}");
    reply["data"].clone()
}

/// Waits until `client` gets `want` from `version`, at most `within`. An invoke that gets no
/// reply (no plugin handles `version` at that moment) is given up after a short wait.
async fn answers(client: &mut Client, want: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = left.min(Duration::from_millis(200));
        if let Ok(data) = tokio::time::timeout(wait, version(client)).await {
            if data["version"] == want {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Waits until the status of `name` satisfies `check`.
async fn status_until(live: &Live, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + STEP;
    loop {
        let status = live.status(name);
        if check(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "status of {name} never matched: {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Writes `bytes` as `path` the way editors save: a temporary file renamed over it.
fn rename_save(path: &Path, bytes: &[u8]) {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replacing_a_plugin_50_times_under_load_fails_no_request() {
    let _serial = SERIAL.lock().await;
    const SOCKETS: usize = 200;
    const REPLACEMENTS: usize = 50;
    let live = Live::start(2);
    let addr = live.addr();
    let (a, b) = (fixture("versioned-a"), fixture("versioned-b"));

    // Each load socket invokes `version` every PACE and records the version of its latest answer
    // (b'a' or b'b'); any error reply or missing reply fails the test. Paced rather than back to
    // back: a steady load, not a saturated one, so the switch time measures the reload rather
    // than the queue in front of a debug build sharing two cores with its own load generator.
    const PACE: Duration = Duration::from_millis(25);
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Vec<AtomicU8>> = Arc::new((0..SOCKETS).map(|_| AtomicU8::new(0)).collect());
    let answered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for index in 0..SOCKETS {
        let (stop, seen, answered) = (stop.clone(), seen.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            let (mut client, _) = Client::connected(addr).await;
            while !stop.load(Relaxed) {
                // `invoke` panics if no reply comes within STEP: an unanswered request fails.
                let data = version(&mut client).await;
                let v = data["version"].as_str().expect("a version").as_bytes()[0];
                seen[index].store(v, Relaxed);
                answered.fetch_add(1, Relaxed);
                tokio::time::sleep(PACE).await;
            }
        }));
    }
    let all_on = |v: u8| seen.iter().all(|s| s.load(Relaxed) == v);
    assert!(
        eventually(STEP * 4, || all_on(b'a')).await,
        "the load sockets did not all start"
    );

    let load_started = Instant::now();
    let answered_before = answered.load(Relaxed);
    let mut switch_times = Vec::with_capacity(REPLACEMENTS);
    for round in 0..REPLACEMENTS {
        let (bytes, want) = if round % 2 == 0 {
            (&b, b'b')
        } else {
            (&a, b'a')
        };
        let started = Instant::now();
        // Half the rounds write in place, half save the way editors do.
        if round % 4 < 2 {
            std::fs::write(live.file("versioned.wasm"), bytes).unwrap();
        } else {
            rename_save(&live.file("versioned.wasm"), bytes);
        }
        let switched = eventually(STEP, || all_on(want)).await;
        let took = started.elapsed();
        assert!(
            switched,
            "round {round}: not every socket got the new version"
        );
        switch_times.push(took);
    }
    stop.store(true, Relaxed);
    for task in tasks {
        task.await
            .expect("a load socket failed (error reply or no reply)");
    }

    let by_round = format!("{switch_times:?}");
    switch_times.sort();
    let (median, max) = (
        switch_times[REPLACEMENTS / 2],
        switch_times[REPLACEMENTS - 1],
    );
    let rate =
        (answered.load(Relaxed) - answered_before) as f64 / load_started.elapsed().as_secs_f64();
    println!(
        "{REPLACEMENTS} replacements under {SOCKETS} sockets ({rate:.0} answers/s): write → every socket on the new version: median {median:?}, max {max:?}"
    );
    assert!(
        max <= SWITCH_WITHIN,
        "slowest switch took {max:?} (median {median:?}); by round: {by_round}"
    );
    let status = live.status("versioned");
    assert_eq!(status["loads"], REPLACEMENTS as u64 + 1, "{status}");
    assert_eq!(status["failed_loads"], 0, "{status}");
    assert_eq!(status["errors"], 0, "{status}");
    live.stop().await;
}

#[tokio::test]
async fn a_broken_truncated_or_trapping_file_leaves_the_old_version_serving() {
    let _serial = SERIAL.lock().await;
    let live = Live::start(2);
    let (mut client, _) = Client::connected(live.addr()).await;
    assert_eq!(version(&mut client).await["version"], "a");
    let b = fixture("versioned-b");
    let bad: [(&str, Vec<u8>, &str); 3] = [
        (
            "garbage",
            b"this is not a component".to_vec(),
            "not a valid component",
        ),
        (
            "truncated",
            b[..b.len() / 2].to_vec(),
            "not a valid component",
        ),
        ("init trap", fixture("init-trap"), "failed to start"),
    ];
    for (round, (what, bytes, reason)) in bad.into_iter().enumerate() {
        std::fs::write(live.file("versioned.wasm"), &bytes).unwrap();
        let status = status_until(&live, "versioned", |s| {
            s["failed_loads"] == round as u64 + 1
        })
        .await;
        let message = status["last_error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{what}: {message}");
        assert_eq!(status["state"], "live", "{what}: {status}");
        // The old version still answers, on every worker.
        for _ in 0..4 {
            let (mut other, _) = Client::connected(live.addr()).await;
            assert_eq!(version(&mut other).await["version"], "a", "{what}");
        }
        assert_eq!(version(&mut client).await["version"], "a", "{what}");
    }
    std::fs::write(live.file("versioned.wasm"), &b).unwrap();
    assert!(
        answers(&mut client, "b", STEP).await,
        "the good file never went live"
    );
    let status = live.status("versioned");
    assert!(status["last_error"].is_null(), "{status}");
    assert_eq!(status["loads"], 2);
    live.stop().await;
}

#[tokio::test]
async fn rename_save_reloads_exactly_once() {
    let _serial = SERIAL.lock().await;
    let live = Live::start(2);
    let (mut client, _) = Client::connected(live.addr()).await;
    assert_eq!(version(&mut client).await["version"], "a");
    rename_save(&live.file("versioned.wasm"), &fixture("versioned-b"));
    assert!(answers(&mut client, "b", STEP).await);
    // Several debounce periods later, still exactly one reload.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = live.status("versioned");
    assert_eq!(status["loads"], 2, "{status}");
    assert_eq!(status["failed_loads"], 0, "{status}");
    assert!(!live.file("versioned.wasm.tmp").exists());
    live.stop().await;
}

#[tokio::test]
async fn deleting_a_plugin_unloads_it_and_adding_it_back_loads_it() {
    let _serial = SERIAL.lock().await;
    let live = Live::start(1);
    let (mut client, _) = Client::connected(live.addr()).await;
    assert_eq!(version(&mut client).await["version"], "a");

    std::fs::remove_file(live.file("versioned.wasm")).unwrap();
    status_until(&live, "versioned", |s| s["state"] == "removed").await;
    // Its event is unhandled now: no reply at all, as for any event nobody handles.
    let cid = client.cid();
    client
        .send_json(json!({"event": "version", "data": null, "cid": cid}))
        .await;
    let reply = tokio::time::timeout(Duration::from_millis(800), client.reply_to(cid)).await;
    assert!(reply.is_err(), "an unloaded plugin answered: {reply:?}");

    std::fs::write(live.file("versioned.wasm"), fixture("versioned-b")).unwrap();
    assert!(
        answers(&mut client, "b", STEP).await,
        "re-added plugin never answered"
    );
    let status = live.status("versioned");
    assert_eq!(status["state"], "live");
    assert_eq!(status["loads"], 2, "{status}");
    live.stop().await;
}

#[tokio::test]
async fn a_plugin_that_did_not_change_keeps_its_instances_when_another_loads() {
    let _serial = SERIAL.lock().await;
    let live = Live::start(1);
    let (mut client, _) = Client::connected(live.addr()).await;
    assert_eq!(version(&mut client).await["calls"], 1);
    assert_eq!(version(&mut client).await["calls"], 2);
    std::fs::copy(dist("ping.wasm"), live.file("ping.wasm")).unwrap();
    let ping = status_until(&live, "ping", |s| s["state"] == "live").await;
    assert_eq!(ping["events"], json!(["ping"]));
    let reply = client.invoke("ping", json!("x")).await;
    assert_eq!(reply["data"], "x", "{reply}");
    // The same instance of `versioned`: its count went on.
    assert_eq!(version(&mut client).await["calls"], 3);
    live.stop().await;
}

/// `GET /plugins` on the gateway's admin listener.
fn get_plugins(addr: SocketAddr) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(STEP)).unwrap();
    write!(stream, "GET /plugins HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn the_status_report_lists_each_plugin_over_http_and_the_cli() {
    let _serial = SERIAL.lock().await;
    let live = Live::start(2);
    let (mut client, _) = Client::connected(live.addr()).await;
    version(&mut client).await;
    std::fs::write(live.file("versioned.wasm"), b"broken").unwrap();
    status_until(&live, "versioned", |s| s["failed_loads"] == 1).await;

    let addr = live.admin_addr();
    let (head, body) = tokio::task::spawn_blocking(move || get_plugins(addr))
        .await
        .unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("application/json"),
        "{head}"
    );
    let report: Value = serde_json::from_str(&body).unwrap();
    let entry = report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "versioned")
        .unwrap()
        .clone();
    let expected_version = scgate::plugin::component::version(&fixture("versioned-a"));
    assert_eq!(entry["version"], expected_version.as_str());
    assert_eq!(entry["state"], "live");
    assert_eq!(entry["events"], json!(["version"]));
    assert!(entry["calls"].as_u64().unwrap() >= 1, "{entry}");
    assert_eq!(entry["errors"], 0);
    assert!(entry["live_since"].as_str().unwrap().ends_with('Z'));
    assert!(entry["last_error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a valid component"));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scgate"))
        .args(["plugins", "--address", &addr.to_string()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("versioned"))
        .unwrap_or_else(|| panic!("no row:\n{table}"));
    assert!(
        row.contains("live") && row.contains(&expected_version[..12]),
        "{row}"
    );
    assert!(table.contains("last load error"), "{table}");

    let json_out = std::process::Command::new(env!("CARGO_BIN_EXE_scgate"))
        .args(["plugins", "--json", "--address", &addr.to_string()])
        .output()
        .unwrap();
    let parsed: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(parsed["plugins"][0]["name"], "versioned");
    live.stop().await;

    // Nobody listening: a clear error and exit 1.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scgate"))
        .args(["plugins", "--address", &addr.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}

/// A real `scgate serve` process, its working folder, and its log file.
struct Process {
    child: std::process::Child,
    addr: SocketAddr,
    admin: SocketAddr,
    dir: TempDir,
}

impl Process {
    /// Starts `scgate serve` in a fresh folder holding `scgate.toml` = `config` (after
    /// `prepare` ran on the folder), with `extra` flags and environment `env`.
    fn spawn(
        config: &str,
        extra: &[&str],
        env: &[(&str, &Path)],
        prepare: impl FnOnce(&Path),
    ) -> Process {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        std::fs::write(dir.path().join("scgate.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("scgate.log")).unwrap();
        let mut command = common::serve_command();
        command
            .args(["--workers", "2", "--log", "scgate=info"])
            .args(extra)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(log);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn scgate");
        let (addr, admin) = common::ready_addrs(child.stdout.take().unwrap());
        Process {
            child,
            addr,
            admin,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("scgate.log")).unwrap_or_default()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Invokes `event` with `data` until the reply's data satisfies `check`, at most `within`;
/// an invoke that gets no reply is given up after a short wait. Returns the last data seen.
async fn until(
    client: &mut Client,
    event: &str,
    data: Value,
    within: Duration,
    check: impl Fn(&Value) -> bool,
) -> Result<Value, Value> {
    let deadline = Instant::now() + within;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let wait = Duration::from_millis(300);
        if let Ok(reply) = tokio::time::timeout(wait, client.invoke(event, data.clone())).await {
            last = reply;
            if check(&last["data"]) {
                return Ok(last["data"].clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(last)
}

#[tokio::test]
async fn sighup_reloads_plugin_settings_and_keeps_connections() {
    let _serial = SERIAL.lock().await;
    let config = |table: &str| {
        format!("plugins_dir = \"plugins\"\n[plugins.versioned]\nwasi = true\n{table}\n")
    };
    let mut gateway = Process::spawn(&config("tag = \"one\""), &[], &[], |dir| {
        std::fs::create_dir(dir.join("plugins")).unwrap();
        std::fs::write(dir.join("plugins/versioned.wasm"), fixture("versioned-a")).unwrap();
        std::fs::write(dir.join("b.wasm"), fixture("versioned-b")).unwrap();
    });
    let (mut client, _) = Client::connected(gateway.addr).await;
    assert_eq!(version(&mut client).await["tag"], "one");

    // A changed table: the plugin restarts with its new config, on the same connection.
    std::fs::write(gateway.path("scgate.toml"), config("tag = \"two\"")).unwrap();
    gateway.signal("HUP");
    let two = until(&mut client, "version", json!(null), STEP, |d| {
        d["tag"] == "two"
    })
    .await;
    assert!(two.is_ok(), "no config reload: {two:?}\n{}", gateway.log());

    // A config that does not parse changes nothing, and the gateway keeps running.
    std::fs::write(gateway.path("scgate.toml"), "plugins_dir = [").unwrap();
    gateway.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(gateway.alive());
    assert_eq!(version(&mut client).await["tag"], "two");
    assert!(
        gateway.log().contains("config not reloaded"),
        "{}",
        gateway.log()
    );

    // A `file` pointing elsewhere swaps the component; a changed non-plugin setting is named
    // as needing a restart.
    let moved = format!(
        "max_channels_per_socket = 7\n{}file = \"b.wasm\"\n",
        config("tag = \"three\"")
    );
    std::fs::write(gateway.path("scgate.toml"), moved).unwrap();
    gateway.signal("HUP");
    let b = until(&mut client, "version", json!(null), STEP, |d| {
        d["version"] == "b"
    })
    .await;
    assert!(b.is_ok(), "file not switched: {b:?}\n{}", gateway.log());
    assert_eq!(b.unwrap()["tag"], "three");
    assert!(
        gateway
            .log()
            .contains("take effect only on restart: max_channels_per_socket"),
        "{}",
        gateway.log()
    );
    // The connection made before any reload is still the same, working socket.
    let reply = client.invoke("version", json!(null)).await;
    assert!(reply.get("error").is_none(), "{reply}");
    gateway.signal("TERM");
}

#[tokio::test]
async fn dev_mode_rebuilds_a_rust_plugin_when_its_source_changes() {
    let _serial = SERIAL.lock().await;
    // Builds share the target folder of tests/cli.rs's template check, so wit-bindgen is
    // compiled once for both.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/plugin-template");
    let build_wait = Duration::from_secs(300);
    let config = "plugins_dir = \"dist\"\ndev_src = \"src\"\n[plugins.hello]\nwasi = true\n";
    let mut gateway = Process::spawn(
        config,
        &["--dev"],
        &[("CARGO_TARGET_DIR", &target)],
        |dir| {
            std::fs::create_dir(dir.join("dist")).unwrap();
            std::fs::create_dir(dir.join("src")).unwrap();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_scgate"))
                .args(["new-plugin", "hello", "--lang", "rust", "--dir"])
                .arg(dir.join("src/hello"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // The sample plugins' lock file: the same dependency versions as the shared target.
            let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/Cargo.lock");
            std::fs::copy(lock, dir.join("src/hello/Cargo.lock")).unwrap();
        },
    );
    let (mut client, _) = Client::connected(gateway.addr).await;
    let lib = gateway.path("src/hello/src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();

    // Saving the source (unchanged) builds it and installs it as the configured plugin.
    std::fs::write(&lib, &source).unwrap();
    let first = until(&mut client, "hello", json!("x"), build_wait, |d| d == "x").await;
    assert!(
        first.is_ok(),
        "never built and loaded: {first:?}\n{}",
        gateway.log()
    );
    assert!(gateway.path("dist/hello.wasm").is_file());

    // An edit goes live.
    let edited = source.replace("Ok(data)", "Ok(Some(\"\\\"edited\\\"\".to_string()))");
    assert_ne!(edited, source, "the template changed: update this test");
    std::fs::write(&lib, &edited).unwrap();
    let second = until(&mut client, "hello", json!("x"), build_wait, |d| {
        d == "edited"
    })
    .await;
    assert!(
        second.is_ok(),
        "edit not live: {second:?}\n{}",
        gateway.log()
    );

    // A compile error is reported; the live version keeps answering.
    std::fs::write(&lib, format!("{edited}\nthis does not compile")).unwrap();
    let deadline = Instant::now() + build_wait;
    let addr = gateway.admin;
    loop {
        let report = tokio::task::spawn_blocking(move || {
            scgate::plugin::status::fetch(&addr.to_string(), None)
        })
        .await
        .unwrap()
        .unwrap();
        let message = report["plugins"][0]["last_error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if message.starts_with("build failed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no build error reported\n{}",
            gateway.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reply = client.invoke("hello", json!("x")).await;
    assert_eq!(reply["data"], "edited", "{reply}");
    assert!(gateway.alive());
    gateway.signal("TERM");
}
