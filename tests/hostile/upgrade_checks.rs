//! Item 9: origins and upgrade checks. Any origin could open a WebSocket (no `origins`
//! setting), and an upgrade by another method than GET, or with a malformed
//! `Sec-WebSocket-Key`, was accepted. `origins` now works as SocketCluster's (every origin by
//! default; HTTP 403 for others), and the malformed upgrades get HTTP 400.

use crate::common::{settings, start};
use crate::raw::Raw;
use scgate::config::Settings;

fn request(method: &str, key: &str, origin: Option<&str>) -> String {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} /socketcluster/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
         {origin}Content-Length: 0\r\n\r\n"
    )
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

async fn status(addr: std::net::SocketAddr, request: &str) -> String {
    match Raw::upgrade_request(addr, request).await {
        Ok(_) => "HTTP/1.1 101".into(),
        Err(head) => head.lines().next().unwrap_or_default().to_owned(),
    }
}

#[tokio::test]
async fn upgrades_that_are_not_get_or_carry_a_malformed_key_get_400() {
    let server = start(settings());
    let addr = server.local_addr();
    assert_eq!(
        status(addr, &request("GET", KEY, None)).await,
        "HTTP/1.1 101"
    );
    for method in ["POST", "PUT", "DELETE"] {
        let got = status(addr, &request(method, KEY, None)).await;
        assert!(got.starts_with("HTTP/1.1 400"), "{method}: {got}");
    }
    for key in [
        "short",
        "dGhlIHNhbXBsZSBub25jZQ",
        "!!!!!!!!!!!!!!!!!!!!!!==",
        &"QUFB".repeat(20),
    ] {
        let got = status(addr, &request("GET", key, None)).await;
        assert!(got.starts_with("HTTP/1.1 400"), "key {key:?}: {got}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn origins_admit_only_the_listed_origins() {
    let server = start(Settings {
        origins: "app.example.com:443 localhost:*".into(),
        ..settings()
    });
    let addr = server.local_addr();
    let ok = [
        Some("https://app.example.com"),
        Some("http://localhost:3000"),
    ];
    for origin in ok {
        let got = status(addr, &request("GET", KEY, origin)).await;
        assert_eq!(got, "HTTP/1.1 101", "{origin:?}");
    }
    let refused = [
        Some("https://evil.example"),
        Some("http://app.example.com"),
        None,
    ];
    for origin in refused {
        let got = status(addr, &request("GET", KEY, origin)).await;
        assert!(got.starts_with("HTTP/1.1 403"), "{origin:?}: {got}");
    }
    server.shutdown().await;

    // The default admits every origin, as SocketCluster's does.
    let server = start(settings());
    let got = status(
        server.local_addr(),
        &request("GET", KEY, Some("https://evil.example")),
    )
    .await;
    assert_eq!(got, "HTTP/1.1 101");
    server.shutdown().await;
}
