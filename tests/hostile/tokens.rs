//! Item 12: tokens. A validly signed token without `exp` never expires, and a 1 MB signed token
//! was accepted, its claims then copied into every plugin call of the socket. `auth_require_exp`
//! refuses tokens without `exp`, and `auth_max_token_bytes` (8 KiB by default) bounds a token.

use crate::common::{settings, start, Client};
use scgate::config::Settings;
use serde_json::{json, Value};

const KEY: &str = "a-test-key-of-at-least-thirty-two-bytes!";

fn sign(claims: Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(KEY.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("sign")
}

fn with_key(extra: Settings) -> Settings {
    Settings {
        auth_key: KEY.into(),
        ..extra
    }
}

/// Connects presenting `token` in `#handshake`; returns the handshake's data.
async fn handshake_with(addr: std::net::SocketAddr, token: &str) -> Value {
    let mut client = Client::connect(addr).await;
    let cid = client.cid();
    client
        .send_json(json!({"event":"#handshake","data":{"authToken":token},"cid":cid}))
        .await;
    loop {
        let reply = client.next_json().await;
        if reply["rid"] == cid {
            return reply["data"].clone();
        }
    }
}

fn exp_in_an_hour() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.expect("clock").as_secs() + 3600
}

#[tokio::test]
async fn a_token_without_exp_is_refused_when_auth_require_exp_is_set() {
    let forever = sign(json!({"username": "eve"}));
    let server = start(with_key(Settings {
        auth_require_exp: true,
        ..settings()
    }));
    let data = handshake_with(server.local_addr(), &forever).await;
    assert_eq!(data["isAuthenticated"], false, "{data}");
    assert_eq!(data["authError"]["name"], "AuthTokenInvalidError", "{data}");
    assert_eq!(data["authError"]["message"], "jwt has no exp", "{data}");
    let expiring = sign(json!({"username": "ann", "exp": exp_in_an_hour()}));
    let data = handshake_with(server.local_addr(), &expiring).await;
    assert_eq!(data["isAuthenticated"], true, "{data}");
    server.shutdown().await;

    // The default is SocketCluster's: `exp` is checked when present.
    let server = start(with_key(settings()));
    let data = handshake_with(server.local_addr(), &forever).await;
    assert_eq!(data["isAuthenticated"], true, "{data}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_over_auth_max_token_bytes_is_refused_unread() {
    let server = start(with_key(settings()));
    let huge =
        sign(json!({"username": "mallory", "exp": exp_in_an_hour(), "pad": "x".repeat(1 << 20)}));
    let data = handshake_with(server.local_addr(), &huge).await;
    assert_eq!(data["isAuthenticated"], false, "a 1 MB token was accepted");
    assert_eq!(data["authError"]["name"], "AuthTokenInvalidError");
    assert_eq!(data["authError"]["message"], "jwt longer than 8192 bytes");
    // Through #authenticate as well.
    let (mut client, _) = Client::connected(server.local_addr()).await;
    let reply = client.invoke("#authenticate", json!(huge)).await;
    assert_eq!(
        reply["error"]["message"], "jwt longer than 8192 bytes",
        "{reply}"
    );
    let small = sign(json!({"username": "ann", "exp": exp_in_an_hour()}));
    let data = handshake_with(server.local_addr(), &small).await;
    assert_eq!(data["isAuthenticated"], true, "{data}");
    server.shutdown().await;
}
