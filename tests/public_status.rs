//! `GET /status/plugins`: the plugin status for pages served to clients, answered only when
//! `public_plugin_status` (or dev mode) is on, without file paths.

mod common;

use common::settings;
use scgate::config::Settings;
use scgate::plugin::Plugins;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// A gateway with the sample `ping` plugin, copied into a temp plugins folder.
fn gateway(public_plugin_status: bool) -> (scgate::ServerHandle, Plugins, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ping = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist/ping.wasm");
    std::fs::copy(&ping, dir.path().join("ping.wasm"))
        .unwrap_or_else(|e| panic!("{} ({e}): run plugins/build.sh", ping.display()));
    let settings = Settings {
        plugins_dir: dir.path().to_string_lossy().into_owned(),
        public_plugin_status,
        shutdown_grace_ms: 100,
        ..settings()
    };
    let tables: toml::Table = "[ping]\nwasi = true\n".parse().expect("tables");
    let plugins = Plugins::load(&settings, &tables).expect("plugins load");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let handle = scgate::start(settings, listener, plugins.hooks()).expect("start");
    (handle, plugins, dir)
}

/// One HTTP GET; the status line, the headers and the body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("write");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    (head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn the_public_report_needs_the_setting_and_has_no_paths() {
    let (off, _plugins_off, _dir_off) = gateway(false);
    let addr = off.local_addr();
    let (head, _) = tokio::task::spawn_blocking(move || get(addr, "/status/plugins"))
        .await
        .expect("get");
    assert!(head.contains(" 404 "), "{head}");
    off.shutdown().await;

    let (on, plugins, dir) = gateway(true);
    let addr = on.local_addr();
    let (head, body) = tokio::task::spawn_blocking(move || get(addr, "/status/plugins"))
        .await
        .expect("get");
    assert!(head.contains(" 200 "), "{head}");
    assert!(head.contains("application/json"), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    let report: Value = serde_json::from_str(&body).expect("JSON");
    let ping = &report["plugins"][0];
    assert_eq!(ping["name"], "ping");
    assert_eq!(ping["state"], "live");
    assert_eq!(ping["version"], plugins.status()["plugins"][0]["version"]);
    assert_eq!(ping["events"], serde_json::json!(["ping"]));
    assert!(ping.get("file").is_none(), "{ping}");
    let folder = dir.path().to_string_lossy().into_owned();
    assert!(!body.contains(&folder), "the report shows a path: {body}");
    on.shutdown().await;
}
