//! Item 4: no per-address limit, and health shared the pool. One client holding every
//! connection slot made `/health` answer 503 too. Connections per address and the rate at which
//! one address opens them are now bounded (HTTP 429 past either), and health, metrics and the
//! plugin report stay reachable on the admin listener when the public pool is full.

use crate::common::{http_async, settings, start, Client};
use scgate::config::Settings;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// The HTTP status line a connection from `from` gets for `GET /health` on `addr`.
async fn status_from(from: &str, addr: SocketAddr) -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_max_connections_per_ip() {
    let server = start(Settings {
        max_connections_per_ip: 3,
        ..settings()
    });
    let addr = server.local_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connected(addr).await.0);
    }
    assert_eq!(
        status_from("127.0.0.1", addr).await,
        "HTTP/1.1 429 Too Many Requests"
    );
    // Another address is not affected.
    assert_eq!(status_from("127.0.0.2", addr).await, "HTTP/1.1 200 OK");
    let refused = server
        .gateway()
        .metrics()
        .connections_refused_per_ip
        .load(Relaxed);
    assert_eq!(refused, 1);
    // A closed connection gives its address's slot back.
    held.pop();
    let mut freed = false;
    for _ in 0..50 {
        if status_from("127.0.0.1", addr).await == "HTTP/1.1 200 OK" {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "the slot of a closed connection was not given back");
    server.shutdown().await;
}

#[tokio::test]
async fn one_address_cannot_open_connections_faster_than_accept_rate_per_ip() {
    let server = start(Settings {
        accept_rate_per_ip: 5,
        ..settings()
    });
    let addr = server.local_addr();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(status_from("127.0.0.1", addr).await);
    }
    let refused = statuses.iter().filter(|s| s.contains(" 429 ")).count();
    assert!(
        refused >= 5,
        "12 connections at once with a rate of 5/s: {statuses:?}"
    );
    assert_eq!(status_from("127.0.0.3", addr).await, "HTTP/1.1 200 OK");
    server.shutdown().await;
}

#[tokio::test]
async fn health_and_metrics_answer_while_the_public_pool_is_full() {
    let server = start(Settings {
        max_connections: 2,
        ..settings()
    });
    let addr = server.local_addr();
    let _a = Client::connected(addr).await;
    let _b = Client::connected(addr).await;
    assert!(status_from("127.0.0.1", addr).await.contains(" 503 "));
    let admin = server.admin_addr().expect("an admin listener");
    let health = http_async(admin, "/health", "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""sockets_open":2"#), "{health}");
    let metrics = http_async(admin, "/metrics", "").await;
    assert!(
        metrics.contains("scgate_connections_refused 1"),
        "{metrics}"
    );
    server.shutdown().await;
}
