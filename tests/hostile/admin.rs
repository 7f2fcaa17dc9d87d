//! Admin endpoints: counters, metrics and the plugin report (file paths included) are served on
//! the admin listener (loopback by default, optionally behind a token), never on the public port,
//! which keeps only a minimal liveness answer.

use crate::common::{self, http_async, settings, start, Client};
use scgate::config::Settings;

#[tokio::test]
async fn the_public_port_answers_liveness_only() {
    let server = start(settings());
    let (_client, _) = Client::connected(server.local_addr()).await;
    let public = server.local_addr();
    let health = http_async(public, "/health", "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = health.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(
        body, r#"{"status":"ok"}"#,
        "counters leak on the public port"
    );
    for path in ["/metrics", "/plugins"] {
        let response = http_async(public, path, "").await;
        assert!(response.starts_with("HTTP/1.1 404"), "{path}: {response}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_admin_listener_serves_counters_metrics_and_the_plugin_report() {
    let server = start(settings());
    let (_client, _) = Client::connected(server.local_addr()).await;
    let admin = server.admin_addr().expect("an admin listener");
    let health = http_async(admin, "/health", "").await;
    let body: serde_json::Value =
        serde_json::from_str(health.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["sockets_open"], 1);
    let metrics = http_async(admin, "/metrics", "").await;
    assert!(metrics.contains("scgate_sockets_total 1"), "{metrics}");
    // Native hooks: no plugin report, but the route is there (answered by a worker).
    let plugins = http_async(admin, "/plugins", "").await;
    assert!(plugins.starts_with("HTTP/1.1 404"), "{plugins}");
    assert!(plugins.contains("native hooks"), "{plugins}");
    // No WebSocket, no static files on the admin port.
    let other = http_async(admin, "/socketcluster/", "").await;
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_admin_token_is_required_when_set() {
    let server = start(Settings {
        admin_token: "s3cret-admin-token".into(),
        ..settings()
    });
    let admin = server.admin_addr().expect("an admin listener");
    for headers in [
        "",
        "Authorization: Bearer wrong\r\n",
        "Authorization: s3cret-admin-token\r\n",
    ] {
        let response = http_async(admin, "/metrics", headers).await;
        assert!(
            response.starts_with("HTTP/1.1 401"),
            "{headers:?}: {response}"
        );
    }
    let response = http_async(
        admin,
        "/metrics",
        "Authorization: Bearer s3cret-admin-token\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.shutdown().await;
}

#[test]
fn scgate_serve_puts_the_admin_listener_on_loopback_and_says_where() {
    // The public port on every address; the admin listener stays on loopback by default.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scgate"))
        .args([
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--admin-port",
            "0",
        ])
        .args(["--public-dir", "", "--workers", "1", "--plugins-dir", ""])
        .env_remove("SCGATE_ADMIN_HOST")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn scgate");
    let (_public, admin) = common::ready_addrs(child.stdout.take().expect("stdout"));
    assert!(admin.ip().is_loopback(), "{admin}");
    let metrics = common::http(admin, "/metrics", "");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    let _ = child.kill();
    let _ = child.wait();
}
