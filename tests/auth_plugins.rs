//! Authentication through the sample plugins: `demo-login` signs sockets in, and `access-control`
//! grants `private/…` channels by the claims of the verified token and rejects tokens in its
//! authenticate middleware. Needs `plugins/dist/` (built by `plugins/build.sh`).

mod common;

use common::Client;
use jsonwebtoken::{encode, EncodingKey, Header};
use scgate::config::{ProtocolMode, Settings};
use scgate::ServerHandle;
use serde_json::{json, Value};
use tempfile::TempDir;

/// The shared HS256 key of these tests.
const KEY: &str = "auth-plugins-test-key-0123456789abcdef";

/// A gateway running `demo-login` and `access-control`, and the folder it loaded them from.
struct Gateway {
    handle: ServerHandle,
    _dir: TempDir,
}

fn start() -> Gateway {
    let dir = tempfile::tempdir().expect("temp dir");
    let dist = format!("{}/plugins/dist", env!("CARGO_MANIFEST_DIR"));
    let mut tables = toml::Table::new();
    for name in ["demo-login", "access-control"] {
        let from = format!("{dist}/{name}.wasm");
        assert!(
            std::path::Path::new(&from).is_file(),
            "{from} is missing: build the sample plugins first with plugins/build.sh"
        );
        std::fs::copy(&from, dir.path().join(format!("{name}.wasm"))).expect("copy");
        tables.insert(
            name.into(),
            toml::Value::Table("wasi = true".parse().expect("toml")),
        );
    }
    let settings = Settings {
        auth_key: KEY.into(),
        protocol: ProtocolMode::V2,
        plugins_dir: dir.path().to_str().expect("utf-8").into(),
        ..common::settings()
    };
    let hooks = scgate::plugin::load(&settings, &tables).expect("plugins load");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let handle = scgate::start(settings, listener, hooks).expect("start");
    Gateway { handle, _dir: dir }
}

/// Handshakes with `token`; returns the frames before the reply, and the reply's data.
async fn handshake_with(c: &mut Client, token: &str) -> (Vec<Value>, Value) {
    let cid = c.cid();
    c.send_json(json!({"event":"#handshake","data":{"authToken":token},"cid":cid}))
        .await;
    let mut before = Vec::new();
    loop {
        let frame = c.next_json().await;
        if frame["rid"] == cid {
            return (before, frame["data"].clone());
        }
        before.push(frame);
    }
}

fn sign(key: &str, claims: Value) -> String {
    let key = EncodingKey::from_secret(key.as_bytes());
    encode(&Header::default(), &claims, &key).expect("sign")
}

async fn subscribe_error(c: &mut Client, channel: &str) -> Value {
    let reply = c.invoke("#subscribe", json!({"channel":channel})).await;
    reply.get("error").cloned().unwrap_or(Value::Null)
}

#[tokio::test]
async fn access_control_grants_channels_by_the_verified_claims() {
    let gw = start();
    let addr = gw.handle.local_addr();
    let (mut c, _) = Client::connected(addr).await;
    assert_eq!(
        subscribe_error(&mut c, "private/a").await["name"],
        "SubscribeBlockedError"
    );
    let cid = c.cid();
    c.send_json(
        json!({"event":"login","data":{"username":"ann","channels":["private/a"]},"cid":cid}),
    )
    .await;
    let token = loop {
        let frame = c.next_json().await;
        if frame["event"] == "#setAuthToken" {
            break frame["data"]["token"].as_str().expect("token").to_owned();
        }
        assert_ne!(frame["rid"], cid, "the ack came before #setAuthToken");
    };
    assert_eq!(c.reply_to(cid).await.get("error"), None);
    assert_eq!(subscribe_error(&mut c, "private/a").await, Value::Null);
    assert_eq!(
        subscribe_error(&mut c, "private/b").await["name"],
        "SubscribeBlockedError"
    );

    // A reconnect with the stored token keeps the grant.
    let mut again = Client::connect(addr).await;
    let (_, hello) = handshake_with(&mut again, &token).await;
    assert_eq!(hello["isAuthenticated"], true, "{hello}");
    assert_eq!(subscribe_error(&mut again, "private/a").await, Value::Null);

    // Forged claims (an admin role, signed with another key) grant nothing.
    let forged = sign(
        "not-the-gateway-key-0123456789abcdef",
        json!({"role":"admin"}),
    );
    let mut mallory = Client::connect(addr).await;
    let (frames, hello) = handshake_with(&mut mallory, &forged).await;
    assert_eq!(frames, vec![json!({"event":"#removeAuthToken"})]);
    assert_eq!(hello["authError"]["name"], "AuthTokenInvalidError");
    assert_eq!(
        subscribe_error(&mut mallory, "private/a").await["name"],
        "SubscribeBlockedError"
    );
    gw.handle.shutdown().await;
}

#[tokio::test]
async fn access_control_rejects_blocked_users_in_its_authenticate_middleware() {
    let gw = start();
    let addr = gw.handle.local_addr();
    let mut c = Client::connect(addr).await;
    let (frames, hello) = handshake_with(&mut c, &sign(KEY, json!({"username":"blocked"}))).await;
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(hello["isAuthenticated"], false);
    assert_eq!(
        hello["authError"],
        json!({"name":"AuthenticateMiddlewareError","message":"blocked is blocked"})
    );
    let mut c = Client::connect(addr).await;
    let (frames, hello) = handshake_with(&mut c, &sign(KEY, json!({"username":"bad"}))).await;
    assert_eq!(frames, vec![json!({"event":"#removeAuthToken"})]);
    assert_eq!(hello["authError"]["isBadToken"], true);
    gw.handle.shutdown().await;
}
