//! HTTP on the gateway's port: liveness on the public port, health and metrics on the admin
//! listener, static files, the upgrade path, the upgrade deadline for slow clients, and the
//! connection limit.

mod common;

use common::{settings, start, Client};
use scgate::config::Settings;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn get(addr: std::net::SocketAddr, path: &str, extra_headers: &str) -> String {
    common::http(addr, path, extra_headers)
}

const UPGRADE: &str = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

#[tokio::test]
async fn health_and_metrics_report_counters() {
    let server = start(settings());
    let (_c, _) = Client::connected(server.local_addr()).await;
    let public = server.local_addr();
    let liveness = tokio::task::spawn_blocking(move || get(public, "/health", ""))
        .await
        .unwrap();
    assert!(liveness.starts_with("HTTP/1.1 200"), "{liveness}");
    assert!(
        liveness.ends_with("\r\n\r\n{\"status\":\"ok\"}"),
        "{liveness}"
    );
    let addr = server.admin_addr().unwrap();
    let health = tokio::task::spawn_blocking(move || get(addr, "/health", ""))
        .await
        .unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body: serde_json::Value =
        serde_json::from_str(health.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["sockets_open"], 1);
    let metrics = tokio::task::spawn_blocking(move || get(addr, "/metrics", ""))
        .await
        .unwrap();
    assert!(metrics.contains("scgate_sockets_total 1"), "{metrics}");
    server.shutdown().await;
}

#[tokio::test]
async fn static_files_are_served_from_the_public_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<h1>scgate sample</h1>").unwrap();
    let server = start(Settings {
        public_dir: dir.path().to_string_lossy().into_owned(),
        ..settings()
    });
    let addr = server.local_addr();
    let (index, missing) =
        tokio::task::spawn_blocking(move || (get(addr, "/", ""), get(addr, "/nope.js", "")))
            .await
            .unwrap();
    assert!(
        index.starts_with("HTTP/1.1 200") && index.contains("<h1>scgate sample</h1>"),
        "{index}"
    );
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_upgrade_on_any_other_path_gets_400() {
    let server = start(settings());
    let addr = server.local_addr();
    let responses = tokio::task::spawn_blocking(move || {
        ["/socketcluster", "/other/", "/"].map(|path| get(addr, path, UPGRADE))
    })
    .await
    .unwrap();
    for response in responses {
        assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    }
    // The right path still upgrades.
    let (_c, hs) = Client::connected(server.local_addr()).await;
    assert!(hs["id"].is_string());
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_trickles_its_request_is_cut_off_at_the_upgrade_deadline() {
    let server = start(Settings {
        upgrade_timeout_ms: 500,
        ..settings()
    });
    let addr = server.local_addr();
    let elapsed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let started = Instant::now();
        let request = format!("GET /socketcluster/ HTTP/1.1\r\nHost: t\r\n{UPGRADE}\r\n");
        let mut buf = [0u8; 256];
        for byte in request.as_bytes().iter().cycle() {
            // One byte every 50 ms: the whole request would take seconds.
            if stream.write_all(&[*byte]).is_err() {
                return started.elapsed();
            }
            match stream.read(&mut buf) {
                Ok(0) => return started.elapsed(),
                Ok(_) => panic!("the server answered a request that never finished"),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return started.elapsed(),
            }
            assert!(started.elapsed() < Duration::from_secs(10), "never cut off");
        }
        unreachable!()
    })
    .await
    .unwrap();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connections_past_the_limit_get_503_and_the_rest_keep_working() {
    let server = start(Settings {
        max_connections: 2,
        ..settings()
    });
    let (mut a, _) = Client::connected(server.local_addr()).await;
    let (_b, _) = Client::connected(server.local_addr()).await;
    let addr = server.local_addr();
    let refused = tokio::task::spawn_blocking(move || get(addr, "/health", ""))
        .await
        .unwrap();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert_eq!(a.invoke("echo", serde_json::json!(1)).await["data"], 1);
    assert_eq!(
        server
            .gateway()
            .metrics()
            .connections_refused
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // A closed connection frees its slot.
    drop(a);
    let freed = common::eventually(Duration::from_secs(5), || {
        get(addr, "/health", "").starts_with("HTTP/1.1 200")
    })
    .await;
    assert!(freed, "the slot of a closed connection was not freed");
    server.shutdown().await;
}
