//! The WebAssembly plugin runtime against a real gateway: the example plugins (`ping`,
//! `access-control`, `demo-login`), every host import through the `host-calls` fixture, misbehaving
//! guests (`misbehave`) and plugins that fail to load.
//!
//! The components come from `plugins/dist/`: run `plugins/build.sh` before `cargo test`. Each
//! gateway gets a temporary `plugins_dir` holding only the components its test needs.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{eventually, settings, Client, Seen, STEP};
use scgate::config::{ProtocolMode, Settings};
use scgate::{HooksFactory, ServerHandle};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

// ---------------------------------------------------------------------------------------------
// Support: plugin folders, gateways, a client that keeps the frames it skipped, captured logs.
// ---------------------------------------------------------------------------------------------

/// `plugins/dist/<file>`, or a failure that says how to build it.
fn dist(file: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/dist")
        .join(file);
    assert!(
        path.is_file(),
        "{} is missing: build the plugins with `plugins/build.sh` before `cargo test`",
        path.display()
    );
    path
}

/// Where `build.sh` puts the component of plugin `name`.
fn dist_file(name: &str) -> String {
    match name {
        "misbehave" | "bad-init" | "init-trap" | "host-calls" => format!("fixtures/{name}.wasm"),
        _ => format!("{name}.wasm"),
    }
}

/// A gateway about to start: its settings, a temporary plugins folder and the
/// `[plugins.NAME]` tables.
struct Setup {
    settings: Settings,
    dir: TempDir,
    tables: toml::Table,
}

impl Setup {
    fn new(mut settings: Settings) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        settings.plugins_dir = dir.path().to_str().expect("utf-8 temp path").to_owned();
        Setup {
            settings,
            dir,
            tables: toml::Table::new(),
        }
    }

    /// Copies plugin `name` from `plugins/dist/` into the plugins folder, with `wasi = true`.
    fn with(self, name: &str) -> Setup {
        self.copy(name).config(name, "wasi = true")
    }

    /// Copies plugin `name` into the plugins folder and leaves its table alone.
    fn copy(self, name: &str) -> Setup {
        self.copy_as(name, &dist_file(name))
    }

    /// Copies `plugins/dist/<file>` into the plugins folder as `<name>.wasm`.
    fn copy_as(self, name: &str, file: &str) -> Setup {
        let to = self.dir.path().join(format!("{name}.wasm"));
        std::fs::copy(dist(file), &to).expect("copy the component");
        self
    }

    /// Writes `bytes` into the plugins folder as `<name>.wasm`.
    fn raw(self, name: &str, bytes: &[u8]) -> Setup {
        std::fs::write(self.dir.path().join(format!("{name}.wasm")), bytes).expect("write");
        self
    }

    /// Merges `toml_text` into the table of plugin `name`.
    fn config(mut self, name: &str, toml_text: &str) -> Setup {
        let extra: toml::Table = toml_text.parse().expect("test TOML");
        let table = self
            .tables
            .entry(name.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("a table");
        table.extend(extra);
        self
    }

    fn load(&self) -> anyhow::Result<HooksFactory> {
        scgate::plugin::load(&self.settings, &self.tables)
    }

    /// The error text (whole chain) of a load that must fail.
    fn load_error(&self) -> String {
        match self.load() {
            Ok(_) => panic!("the plugins loaded, but the test expects a failure"),
            Err(err) => format!("{err:#}"),
        }
    }

    fn start(self) -> Gateway {
        init_logs();
        let hooks = match self.load() {
            Ok(hooks) => hooks,
            Err(err) => panic!("plugins failed to load: {err:#}"),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let handle = scgate::start(self.settings.clone(), listener, hooks).expect("start");
        Gateway {
            handle,
            _dir: self.dir,
        }
    }
}

/// A running gateway and the plugins folder it loaded from.
struct Gateway {
    handle: ServerHandle,
    _dir: TempDir,
}

impl Gateway {
    fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}

/// The common test settings (two workers), with a pong timeout long enough that a socket the
/// test is not reading from (so not answering pings) stays open for the whole test, and a short
/// shutdown grace: tests end with their clients still open and not reading, so a graceful close
/// would wait out its linger on every one of them.
fn base() -> Settings {
    Settings {
        ping_timeout_ms: 60_000,
        shutdown_grace_ms: 100,
        ..settings()
    }
}

/// Settings with one worker, so every socket meets the same plugin instances.
fn one_worker() -> Settings {
    Settings {
        workers: 1,
        ..base()
    }
}

/// A protocol client that keeps the frames it skipped while waiting for another, so that no
/// frame is lost between two waits.
struct Peer {
    client: Client,
    stash: VecDeque<Value>,
    id: String,
}

impl Peer {
    async fn connect(addr: SocketAddr) -> Peer {
        Peer::connect_query(addr, "").await
    }

    /// Connects with `?query` on the upgrade URL and completes the handshake.
    async fn connect_query(addr: SocketAddr, query: &str) -> Peer {
        let path = if query.is_empty() {
            "/socketcluster/".to_owned()
        } else {
            format!("/socketcluster/?{query}")
        };
        let mut client = Client::connect_path(addr, &path).await;
        let handshake = client.handshake().await;
        let id = handshake["id"].as_str().expect("socket id").to_owned();
        Peer {
            client,
            stash: VecDeque::new(),
            id,
        }
    }

    /// The worker that owns this socket.
    fn worker(&self) -> usize {
        scgate::socket_id::decode(&self.id)
            .expect("a gateway socket id")
            .0
    }

    /// The next frame, stashed ones first.
    async fn next(&mut self) -> Value {
        match self.stash.pop_front() {
            Some(v) => v,
            None => self.client.next_json().await,
        }
    }

    /// The first frame (stashed or new) that `matches`; the others are stashed in order.
    async fn wait_for(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.stash.iter().position(&matches) {
            return self.stash.remove(i).expect("stashed");
        }
        loop {
            let v = self.client.next_json().await;
            if matches(&v) {
                return v;
            }
            self.stash.push_back(v);
        }
    }

    /// Sends an event with a cid; returns the cid.
    async fn send(&mut self, event: &str, data: Value) -> u64 {
        let cid = self.client.cid();
        self.client
            .send_json(json!({"event":event,"data":data,"cid":cid}))
            .await;
        cid
    }

    async fn reply(&mut self, cid: u64) -> Value {
        self.wait_for(|v| v["rid"] == cid).await
    }

    /// Sends an event and returns its reply.
    async fn invoke(&mut self, event: &str, data: Value) -> Value {
        let cid = self.send(event, data).await;
        self.reply(cid).await
    }

    /// Sends an event and returns every frame up to and including its reply, in order.
    async fn invoke_frames(&mut self, event: &str, data: Value) -> Vec<Value> {
        assert!(
            self.stash.is_empty(),
            "unexpected earlier frames: {:?}",
            self.stash
        );
        let cid = self.send(event, data).await;
        let mut frames = Vec::new();
        loop {
            let v = self.next().await;
            let done = v["rid"] == cid;
            frames.push(v);
            if done {
                return frames;
            }
        }
    }

    /// The data of a successful reply (`null` if it had none); fails on an error reply.
    async fn ok(&mut self, event: &str, data: Value) -> Value {
        let reply = self.invoke(event, data).await;
        assert!(reply.get("error").is_none(), "{event} failed: {reply}");
        reply.get("data").cloned().unwrap_or(Value::Null)
    }

    /// The error object of a reply that must fail.
    async fn error(&mut self, event: &str, data: Value) -> Value {
        let reply = self.invoke(event, data).await;
        reply
            .get("error")
            .cloned()
            .unwrap_or_else(|| panic!("{event} should fail, got {reply}"))
    }

    async fn subscribe(&mut self, channel: &str) {
        let reply = self.invoke("#subscribe", json!({"channel":channel})).await;
        assert!(
            reply.get("error").is_none(),
            "subscribe {channel} failed: {reply}"
        );
    }

    async fn publish(&mut self, channel: &str, data: Value) -> Value {
        self.invoke("#publish", json!({"channel":channel,"data":data}))
            .await
    }

    /// The next `#publish` delivery as (channel, data).
    async fn delivery(&mut self) -> (String, Value) {
        let v = self.wait_for(|v| v["event"] == "#publish").await;
        (
            v["data"]["channel"].as_str().unwrap_or_default().to_owned(),
            v["data"]["data"].clone(),
        )
    }

    /// The next event named `name`, as a whole frame.
    async fn event(&mut self, name: &str) -> Value {
        self.wait_for(|v| v["event"] == name).await
    }

    /// The text frames still to come and the close frame: (frames, code, reason).
    async fn closed(&mut self) -> (Vec<Value>, u16, String) {
        let mut frames: Vec<Value> = self.stash.drain(..).collect();
        loop {
            match self.client.next_raw().await {
                Seen::Text(t) if t == "#1" || t.is_empty() => {}
                Seen::Text(t) => frames.push(serde_json::from_str(&t).expect("JSON frame")),
                Seen::Closed(code, reason) => return (frames, code, reason),
                Seen::Gone => panic!("connection dropped without a close frame"),
            }
        }
    }
}

/// The claims of a JWT, unverified.
fn jwt_claims(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a JWT: {token}");
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url payload");
    serde_json::from_slice(&payload).expect("JSON claims")
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock")
}

/// Everything the gateway logged (plugin lines at `info`, the rest at `warn`, or `TEST_LOG`),
/// so tests can look for what plugins wrote.
static LOGS: Mutex<String> = Mutex::new(String::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            eprint!("{text}");
        }
        LOGS.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_str(&text);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    let base = std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into());
    let filter = tracing_subscriber::EnvFilter::new(format!("{base},scgate::plugin::host=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(|| Capture)
        .try_init();
}

fn logged(needle: &str) -> bool {
    LOGS.lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(needle)
}

/// Polls the shared KV store through `peer` until `key` holds `want` (a JSON string or null).
async fn kv_eventually(peer: &mut Peer, key: &str, want: Value) {
    let deadline = Instant::now() + STEP;
    loop {
        let got = peer.ok("kv-get", json!(key)).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kv {key}: want {want}, still {got}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// ping and demo-login: handler plugins.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ping_acks_its_data_unchanged_and_publishes_the_per_worker_count_on_pong() {
    let gw = Setup::new(one_worker()).with("ping").start();
    let mut a = Peer::connect(gw.addr()).await;
    let mut watcher = Peer::connect(gw.addr()).await;
    watcher.subscribe("pong").await;

    let data = json!({"nested":[1,"two",null,{"x":true}],"n":1.5,"s":"é\"\\"});
    let reply = a.invoke("ping", data.clone()).await;
    assert_eq!(reply, json!({"rid":reply["rid"],"data":data}));
    // No data: an ack without data.
    let reply = a.invoke("ping", Value::Null).await;
    assert_eq!(reply, json!({"rid":reply["rid"],"data":null}));
    let cid = a.client.cid();
    a.client.send_json(json!({"event":"ping","cid":cid})).await;
    assert_eq!(a.reply(cid).await, json!({"rid":cid}));

    for want in 1..=3 {
        assert_eq!(watcher.delivery().await, ("pong".into(), json!(want)));
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn ping_counts_per_worker_instance() {
    let gw = Setup::new(base()).with("ping").start();
    let mut a = Peer::connect(gw.addr()).await;
    let mut b = Peer::connect(gw.addr()).await;
    assert_ne!(
        a.worker(),
        b.worker(),
        "round robin puts two sockets on two workers"
    );
    let mut watcher = Peer::connect(gw.addr()).await;
    watcher.subscribe("pong").await;
    a.ok("ping", json!(1)).await;
    b.ok("ping", json!(2)).await;
    a.ok("ping", json!(3)).await;
    let mut counts = Vec::new();
    for _ in 0..3 {
        counts.push(watcher.delivery().await.1);
    }
    assert_eq!(counts, vec![json!(1), json!(1), json!(2)]);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_handler_error_object_reaches_the_client_exactly() {
    let gw = Setup::new(one_worker()).with("demo-login").start();
    let mut c = Peer::connect(gw.addr()).await;
    assert_eq!(
        c.error("login", json!({"role":"admin"})).await,
        json!({"name":"LoginError","message":"username required"})
    );
    assert_eq!(
        c.error("login", Value::Null).await,
        json!({"name":"LoginError","message":"username required"})
    );
    // An event no plugin registered gets no reply at all (as in SocketCluster): the next reply
    // the socket sees is the one to the following event.
    let unhandled = c.send("nobody-handles-this", json!(1)).await;
    let reply = c.invoke("login", json!({"username":"u"})).await;
    assert_ne!(reply["rid"], unhandled);
    assert!(reply.get("error").is_none(), "{reply}");
    assert!(
        c.stash.iter().all(|v| v["rid"] != unhandled),
        "{:?}",
        c.stash
    );
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Middleware: every stage through access-control.
// ---------------------------------------------------------------------------------------------

fn access_control(settings: Settings) -> Setup {
    Setup::new(settings)
        .with("access-control")
        .with("ping")
        .with("demo-login")
}

#[tokio::test]
async fn handshake_ws_block_refuses_the_upgrade_with_http_401() {
    let gw = access_control(base()).start();
    let url = format!("ws://{}/socketcluster/?rejectws=1", gw.addr());
    let result = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url))
        .await
        .expect("upgrade answered in time");
    match result {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Err(other) => panic!("expected HTTP 401, got {other}"),
        Ok(_) => panic!("expected HTTP 401, the upgrade succeeded"),
    }
    // Another value, or no such parameter, upgrades normally.
    let mut c = Peer::connect_query(gw.addr(), "rejectws=0").await;
    assert_eq!(c.ok("ping", json!("up")).await, json!("up"));
    gw.shutdown().await;
}

/// Sends `#handshake` on a fresh connection with `?query` and returns its reply.
async fn raw_handshake(addr: SocketAddr, query: &str) -> (Client, Value) {
    let mut client = Client::connect_path(addr, &format!("/socketcluster/?{query}")).await;
    client
        .send_json(json!({"event":"#handshake","data":{"authToken":null},"cid":1}))
        .await;
    let reply = client.next_json().await;
    (client, reply)
}

#[tokio::test]
async fn handshake_sc_block_answers_the_error_with_its_status_code_and_closes() {
    let gw = access_control(base()).start();
    let (mut c, reply) = raw_handshake(gw.addr(), "rejectsc=1").await;
    assert_eq!(
        reply,
        json!({
            "rid":1,
            "error":{"name":"HandshakeRejectedError","message":"SC handshake rejected by test","statusCode":4008},
            "data":{"code":4008}
        })
    );
    let reason = "HandshakeRejectedError: SC handshake rejected by test".to_owned();
    assert_eq!(c.closed().await, (4008, reason.clone()));

    let (mut c, reply) = raw_handshake(gw.addr(), "rejectsc=1&code=4321").await;
    assert_eq!(reply["error"]["statusCode"], 4321, "{reply}");
    assert_eq!(reply["data"], json!({"code":4321}));
    assert_eq!(c.closed().await, (4321, reason));

    let (_c, reply) = raw_handshake(gw.addr(), "rejectsc=0").await;
    assert!(reply.get("error").is_none(), "{reply}");
    assert!(reply["data"]["id"].is_string(), "{reply}");
    gw.shutdown().await;
}

#[tokio::test]
async fn emit_block_stops_the_event_before_its_handler() {
    let gw = Setup::new(one_worker())
        .with("access-control")
        .config("access-control", r#"blocked_events = ["ping"]"#)
        .with("ping")
        .start();
    let mut c = Peer::connect(gw.addr()).await;
    let mut watcher = Peer::connect(gw.addr()).await;
    watcher.subscribe("pong").await;
    assert_eq!(
        c.error("ping", json!(1)).await,
        json!({"name":"EmitBlockedError","message":"Emit of ping is blocked"})
    );
    // The handler never ran: nothing was published on `pong`. A server publish through the
    // same channel is the first delivery the watcher sees.
    watcher.publish("pong", json!("marker")).await;
    assert_eq!(watcher.delivery().await, ("pong".into(), json!("marker")));
    gw.shutdown().await;
}

#[tokio::test]
async fn subscribe_block_refuses_forbidden_channels_and_protected_ones_without_claims() {
    let gw = access_control(one_worker()).start();
    let mut c = Peer::connect(gw.addr()).await;
    assert_eq!(
        c.error("#subscribe", json!({"channel":"forbidden"})).await,
        json!({"name":"SubscribeBlockedError","message":"You cannot subscribe to forbidden"})
    );
    assert_eq!(
        c.error("#subscribe", json!({"channel":"private/x"})).await,
        json!({"name":"SubscribeBlockedError","message":"You cannot subscribe to private/x"})
    );
    c.subscribe("public").await;

    // After login with `channels:["private/x"]` the same socket may use private/x, and only it.
    let frames = c
        .invoke_frames("login", json!({"username":"u","channels":["private/x"]}))
        .await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0]["event"], "#setAuthToken");
    c.subscribe("private/x").await;
    assert_eq!(
        c.error("#subscribe", json!({"channel":"private/y"})).await["name"],
        "SubscribeBlockedError"
    );
    // The refused subscriptions never happened: a publish on private/x arrives, on forbidden
    // nothing (the next delivery is the private/x one).
    let mut admin = Peer::connect(gw.addr()).await;
    admin
        .ok("login", json!({"username":"root","role":"admin"}))
        .await;
    admin.publish("forbidden", json!("never")).await;
    admin.publish("private/x", json!("secret")).await;
    assert_eq!(c.delivery().await, ("private/x".into(), json!("secret")));
    gw.shutdown().await;
}

#[tokio::test]
async fn publish_in_block_answers_the_plugins_error_and_publishes_nothing() {
    let gw = access_control(one_worker()).start();
    let mut publisher = Peer::connect(gw.addr()).await;
    let mut subscriber = Peer::connect(gw.addr()).await;
    subscriber.subscribe("blocked").await;
    subscriber.subscribe("news").await;
    let reply = publisher.publish("blocked", json!("x")).await;
    assert_eq!(
        reply["error"],
        json!({"name":"PublishBlockedError","message":"Publishing to blocked is not allowed"})
    );
    // Protected channels need claims to publish too.
    let reply = publisher.publish("private/room", json!("x")).await;
    assert_eq!(reply["error"]["name"], "PublishBlockedError", "{reply}");
    let reply = publisher.publish("news", json!("after")).await;
    assert!(reply.get("error").is_none(), "{reply}");
    assert_eq!(subscriber.delivery().await, ("news".into(), json!("after")));
    gw.shutdown().await;
}

#[tokio::test]
async fn silent_block_has_the_v14_shape_on_a_v1_listener() {
    let gw = access_control(Settings {
        protocol: ProtocolMode::V1,
        ..one_worker()
    })
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    let reply = c.publish("silentBlocked", json!(1)).await;
    assert_eq!(
        reply["error"],
        json!({
            "name":"SilentMiddlewareBlockedError",
            "message":"Action was silently blocked by publishIn middleware",
            "type":"publishIn"
        })
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn silent_block_has_the_v20_shape_on_a_v2_listener() {
    let gw = access_control(Settings {
        protocol: ProtocolMode::V2,
        ..one_worker()
    })
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    let reply = c.publish("silentBlocked", json!(1)).await;
    assert_eq!(
        reply["error"],
        json!({
            "name":"SilentMiddlewareBlockedError",
            "message":"The publishIn AGAction was blocked by inbound middleware",
            "type":"inbound"
        })
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn publish_in_rewrite_reaches_subscribers_rewritten() {
    let gw = access_control(base()).start();
    let mut publisher = Peer::connect(gw.addr()).await;
    let mut near = Peer::connect(gw.addr()).await;
    let mut far = Peer::connect(gw.addr()).await;
    near.subscribe("news").await;
    far.subscribe("news").await;
    let reply = publisher
        .publish("news", json!({"rewrite":true,"n":1}))
        .await;
    assert_eq!(reply, json!({"rid":reply["rid"]}));
    let want = json!({"rewrite":true,"n":1,"rewritten":true});
    assert_eq!(near.delivery().await, ("news".into(), want.clone()));
    assert_eq!(far.delivery().await, ("news".into(), want));
    // Data without the flag is not touched.
    publisher.publish("news", json!({"n":2})).await;
    assert_eq!(near.delivery().await.1, json!({"n":2}));
    gw.shutdown().await;
}

#[tokio::test]
async fn publish_out_block_drops_the_delivery_but_acks_the_publisher() {
    let gw = access_control(base()).start();
    let mut publisher = Peer::connect(gw.addr()).await;
    let mut a = Peer::connect(gw.addr()).await;
    let mut b = Peer::connect(gw.addr()).await;
    assert_ne!(a.worker(), b.worker());
    a.subscribe("news").await;
    b.subscribe("news").await;
    let reply = publisher
        .publish("news", json!({"dropOut":true,"n":1}))
        .await;
    assert_eq!(reply, json!({"rid":reply["rid"]}), "the publisher is acked");
    publisher.publish("news", json!({"n":2})).await;
    assert_eq!(a.delivery().await, ("news".into(), json!({"n":2})));
    assert_eq!(b.delivery().await, ("news".into(), json!({"n":2})));
    gw.shutdown().await;
}

#[tokio::test]
async fn middleware_config_comes_from_the_plugins_table() {
    let gw = Setup::new(one_worker())
        .with("access-control")
        .config("access-control", r#"forbidden = ["nope"]"#)
        .start();
    let mut c = Peer::connect(gw.addr()).await;
    assert_eq!(
        c.error("#subscribe", json!({"channel":"nope"})).await,
        json!({"name":"SubscribeBlockedError","message":"You cannot subscribe to nope"})
    );
    c.subscribe("forbidden").await;
    gw.shutdown().await;
}

/// Subscribes to `channel` with subscribe `data` and returns the error name, or None if allowed.
async fn subscribe_error(c: &mut Peer, channel: &str, data: Value) -> Option<String> {
    let reply = c
        .invoke("#subscribe", json!({"channel":channel,"data":data}))
        .await;
    reply
        .get("error")
        .map(|e| e["name"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn middleware_of_several_plugins_all_apply_in_configured_order() {
    // Default order 0 for both: ties go by name, so access-control runs before host-calls.
    let gw = Setup::new(one_worker())
        .with("access-control")
        .with("host-calls")
        .start();
    let mut c = Peer::connect(gw.addr()).await;
    let deny = json!({"deny":true});
    assert_eq!(
        subscribe_error(&mut c, "forbidden", deny.clone())
            .await
            .as_deref(),
        Some("SubscribeBlockedError")
    );
    assert_eq!(
        subscribe_error(&mut c, "forbidden", json!(null))
            .await
            .as_deref(),
        Some("SubscribeBlockedError")
    );
    assert_eq!(
        subscribe_error(&mut c, "open", deny.clone())
            .await
            .as_deref(),
        Some("SubscribeDataError")
    );
    assert_eq!(
        subscribe_error(&mut c, "open", json!({"deny":false})).await,
        None
    );
    gw.shutdown().await;

    // `order` puts host-calls first: it decides the channel both refuse.
    let gw = Setup::new(one_worker())
        .with("access-control")
        .config("access-control", "order = 2")
        .with("host-calls")
        .config("host-calls", "order = 1")
        .start();
    let mut c = Peer::connect(gw.addr()).await;
    let error = c
        .error(
            "#subscribe",
            json!({"channel":"forbidden","data":deny.clone()}),
        )
        .await;
    assert_eq!(
        error,
        json!({"name":"SubscribeDataError","message":"denied by data"})
    );
    assert_eq!(
        subscribe_error(&mut c, "forbidden", json!(null))
            .await
            .as_deref(),
        Some("SubscribeBlockedError")
    );
    assert_eq!(
        subscribe_error(&mut c, "open", deny).await.as_deref(),
        Some("SubscribeDataError")
    );
    assert_eq!(subscribe_error(&mut c, "open", json!(null)).await, None);
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Host imports, through host-calls (and demo-login for set-auth-token).
// ---------------------------------------------------------------------------------------------

fn host_calls(settings: Settings) -> Setup {
    Setup::new(settings).with("host-calls")
}

#[tokio::test]
async fn transmit_reaches_the_calling_socket_before_the_ack_and_a_socket_on_another_worker() {
    let gw = host_calls(base()).start();
    let mut a = Peer::connect(gw.addr()).await;
    let mut b = Peer::connect(gw.addr()).await;
    assert_ne!(a.worker(), b.worker());

    let frames = a
        .invoke_frames(
            "transmit",
            json!({"to":a.id,"event":"hello","data":{"x":[1,2]}}),
        )
        .await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0], json!({"event":"hello","data":{"x":[1,2]}}));
    assert_eq!(frames[1], json!({"rid":frames[1]["rid"]}));

    let reply = a
        .invoke(
            "transmit",
            json!({"to":b.id,"event":"greet","data":"from a"}),
        )
        .await;
    assert_eq!(reply, json!({"rid":reply["rid"]}));
    assert_eq!(
        b.event("greet").await,
        json!({"event":"greet","data":"from a"})
    );

    // An id this gateway never issued is dropped (and logged); the call still acks.
    let reply = a
        .invoke(
            "transmit",
            json!({"to":"not-a-socket","event":"x","data":1}),
        )
        .await;
    assert_eq!(reply, json!({"rid":reply["rid"]}));
    gw.shutdown().await;
}

#[tokio::test]
async fn kick_out_removes_the_socket_from_the_channel_and_tells_it() {
    let gw = host_calls(one_worker()).start();
    let mut a = Peer::connect(gw.addr()).await;
    let mut other = Peer::connect(gw.addr()).await;
    a.subscribe("room").await;
    a.subscribe("lobby").await;
    let frames = a.invoke_frames("kick", json!("room")).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(
        frames[0],
        json!({"event":"#kickOut","data":{"message":"kicked by plugin","channel":"room"}})
    );
    assert!(frames[1].get("error").is_none(), "{frames:?}");
    // Kicking from a channel the socket is not in does nothing.
    let frames = a.invoke_frames("kick", json!("room")).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    // a no longer gets `room`, still gets `lobby`.
    other.publish("room", json!("gone")).await;
    other.publish("lobby", json!("here")).await;
    assert_eq!(a.delivery().await, ("lobby".into(), json!("here")));
    // And it may subscribe again.
    a.subscribe("room").await;
    gw.shutdown().await;
}

#[tokio::test]
async fn disconnect_sends_the_ack_then_closes_with_the_code_and_reason() {
    let gw = host_calls(one_worker()).start();
    let mut c = Peer::connect(gw.addr()).await;
    let cid = c
        .send("drop", json!({"code":4500,"reason":"bye now"}))
        .await;
    let (frames, code, reason) = c.closed().await;
    assert_eq!(
        frames,
        vec![
            json!({"rid":cid}),
            json!({"event":"#disconnect","data":{"code":4500,"data":"bye now"}}),
        ]
    );
    assert_eq!((code, reason.as_str()), (4500, "bye now"));
    gw.shutdown().await;
}

#[tokio::test]
async fn set_auth_token_through_login_precedes_the_ack_and_signs_the_claims() {
    const KEY: &str = "plugins-test-key-0123456789abcdef";
    let gw = Setup::new(Settings {
        auth_key: KEY.into(),
        ..one_worker()
    })
    .with("demo-login")
    .with("host-calls")
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    let before = unix_now().as_secs();
    let frames = c
        .invoke_frames("login", json!({"username":"alice","channels":["a","b"]}))
        .await;
    let after = unix_now().as_secs();
    assert_eq!(frames.len(), 2, "#setAuthToken, then the ack: {frames:?}");
    assert_eq!(frames[0]["event"], "#setAuthToken", "{frames:?}");
    assert_eq!(frames[1], json!({"rid":frames[1]["rid"]}));
    let token = frames[0]["data"]["token"].as_str().expect("token");
    let claims = jwt_claims(token);
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["channels"], json!(["a", "b"]));
    let iat = claims["iat"].as_u64().expect("iat");
    assert!(
        (before..=after).contains(&iat),
        "iat {iat} not in {before}..={after}"
    );
    assert_eq!(claims["exp"].as_u64(), Some(iat + 86_400));
    // Signed with HS256 and the configured key.
    let verified = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(KEY.as_bytes()),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .expect("a valid HS256 token");
    assert_eq!(verified.claims, claims);
    // Later calls see the signed claims.
    let me = c.ok("whoami", Value::Null).await;
    assert_eq!(me["authToken"], claims);

    // Claims with their own `exp` keep it (host-calls `sign` calls set-auth-token directly).
    let frames = c
        .invoke_frames("sign", json!({"username":"bob","exp":4_000_000_000u64}))
        .await;
    let claims = jwt_claims(frames[0]["data"]["token"].as_str().expect("token"));
    assert_eq!(claims["exp"], 4_000_000_000u64);
    // Claims that are not an object are refused by the host, and the plugin passes the error on.
    assert_eq!(
        c.error("sign", json!([1, 2])).await,
        json!({"name":"InvalidArgumentsError","message":"auth token claims must be a JSON object"})
    );
    // Tokens can only be set for the socket of the current call.
    let mut other = Peer::connect(gw.addr()).await;
    assert_eq!(
        c.error(
            "sign-for",
            json!({"to":other.id,"claims":{"username":"mallory"}})
        )
        .await,
        json!({
            "name":"InvalidActionError",
            "message":"auth tokens can only be set or removed for the socket of the current call"
        })
    );
    assert_eq!(
        other.ok("whoami", Value::Null).await["authToken"],
        Value::Null
    );
    // Neither refusal sent a token or closed anything.
    assert!(
        c.stash.iter().all(|f| f["event"] != "#setAuthToken"),
        "{:?}",
        c.stash
    );
    assert_eq!(
        c.ok("whoami", Value::Null).await["authToken"]["username"],
        "bob"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn deauthenticate_removes_the_token() {
    // A v1 listener: the shape of `#removeAuthToken` depends on the generation, and under
    // `auto` the generation is learnt from the first pong, at a time the test does not control.
    let gw = Setup::new(Settings {
        protocol: ProtocolMode::V1,
        ..one_worker()
    })
    .with("demo-login")
    .with("host-calls")
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    c.ok("login", json!({"username":"carol"})).await;
    c.event("#setAuthToken").await;
    assert_eq!(
        c.ok("whoami", Value::Null).await["authToken"]["username"],
        "carol"
    );
    let frames = c.invoke_frames("deauth", Value::Null).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    // v14's server sends `data: null`.
    assert_eq!(frames[0], json!({"event":"#removeAuthToken","data":null}));
    assert!(frames[1].get("error").is_none(), "{frames:?}");
    assert_eq!(c.ok("whoami", Value::Null).await["authToken"], Value::Null);
    // login's own `logout` does the same.
    c.ok("login", json!({"username":"carol"})).await;
    c.ok("logout", Value::Null).await;
    c.event("#removeAuthToken").await;
    assert_eq!(c.ok("whoami", Value::Null).await["authToken"], Value::Null);
    // Only the calling socket's token can be removed.
    let mut other = Peer::connect(gw.addr()).await;
    other.ok("login", json!({"username":"erin"})).await;
    assert_eq!(
        c.error("deauth-for", json!(other.id)).await,
        json!({
            "name":"InvalidActionError",
            "message":"auth tokens can only be set or removed for the socket of the current call"
        })
    );
    assert_eq!(
        other.ok("whoami", Value::Null).await["authToken"]["username"],
        "erin"
    );
    gw.shutdown().await;

    // A v2 listener sends it without data.
    let gw = Setup::new(Settings {
        protocol: ProtocolMode::V2,
        ..one_worker()
    })
    .with("host-calls")
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    let frames = c.invoke_frames("deauth", Value::Null).await;
    assert_eq!(frames[0], json!({"event":"#removeAuthToken"}), "{frames:?}");
    gw.shutdown().await;
}

#[tokio::test]
async fn the_kv_store_is_shared_by_every_worker() {
    let gw = host_calls(base()).start();
    let mut a = Peer::connect(gw.addr()).await;
    let mut b = Peer::connect(gw.addr()).await;
    assert_ne!(a.worker(), b.worker());

    assert_eq!(a.ok("kv-get", json!("k")).await, Value::Null);
    assert_eq!(
        a.ok("kv-set", json!({"key":"k","value":"v1"})).await,
        Value::Null
    );
    assert_eq!(b.ok("kv-get", json!("k")).await, json!("v1"));
    b.ok("kv-set", json!({"key":"k","value":"v2"})).await;
    assert_eq!(a.ok("kv-get", json!("k")).await, json!("v2"));
    assert_eq!(b.ok("kv-del", json!("k")).await, json!(true));
    assert_eq!(a.ok("kv-get", json!("k")).await, Value::Null);
    assert_eq!(a.ok("kv-del", json!("k")).await, json!(false));

    assert_eq!(a.ok("kv-incr", json!({"key":"n","by":5})).await, json!(5));
    assert_eq!(b.ok("kv-incr", json!({"key":"n","by":-7})).await, json!(-2));
    assert_eq!(a.ok("kv-get", json!("n")).await, json!("-2"));
    // A host error (not an integer) reaches the client as the host's error object.
    a.ok("kv-set", json!({"key":"s","value":"text"})).await;
    assert_eq!(
        a.error("kv-incr", json!({"key":"s","by":1})).await,
        json!({"name":"KvError","message":"the value at \"s\" is not an integer"})
    );
    let long_key = "k".repeat(1025);
    assert_eq!(
        a.error("kv-get", json!(long_key)).await,
        json!({"name":"KvError","message":"key longer than 1024 bytes"})
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn concurrent_kv_incr_from_sockets_on_every_worker_sums_exactly() {
    let gw = host_calls(base()).start();
    let mut peers = Vec::new();
    for _ in 0..4 {
        peers.push(Peer::connect(gw.addr()).await);
    }
    assert!(peers.iter().any(|p| p.worker() == 0) && peers.iter().any(|p| p.worker() == 1));
    // 4 sockets × 50 increments, all sent before any reply is read.
    let mut cids = Vec::new();
    for peer in &mut peers {
        let mut mine = Vec::new();
        for _ in 0..50 {
            mine.push(peer.send("kv-incr", json!({"key":"hits","by":1})).await);
        }
        cids.push(mine);
    }
    let mut seen = Vec::new();
    for (peer, mine) in peers.iter_mut().zip(cids) {
        for cid in mine {
            let reply = peer.reply(cid).await;
            seen.push(reply["data"].as_i64().unwrap_or_else(|| panic!("{reply}")));
        }
    }
    seen.sort_unstable();
    // Atomic: every increment saw a distinct value, 1 through 200.
    assert_eq!(seen, (1..=200).collect::<Vec<i64>>());
    assert_eq!(peers[0].ok("kv-get", json!("hits")).await, json!("200"));
    gw.shutdown().await;
}

#[tokio::test]
async fn log_writes_a_line_tagged_with_the_plugin() {
    let gw = host_calls(one_worker()).start();
    let mut c = Peer::connect(gw.addr()).await;
    let marker = format!("log-marker-{}", unix_now().as_nanos());
    let reply = c.invoke("log", json!(marker)).await;
    assert_eq!(reply, json!({"rid":reply["rid"]}));
    // The line is written during the call, before the ack.
    assert!(logged(&marker), "no log line with {marker}");
    let logs = LOGS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let line = logs
        .lines()
        .find(|l| l.contains(&marker))
        .expect("the line");
    assert!(
        line.contains("INFO") && line.contains("host-calls"),
        "{line}"
    );
    gw.shutdown().await;
}

/// Regression: with `wasi = true`, a guest write to stdout/stderr goes through
/// `wasi:io/streams` `blocking-flush`. Through wasmtime-wasi's synchronous bindings that calls
/// `Handle::block_on` on the worker thread, which already runs a tokio runtime: the worker
/// panicked and every socket on it was dropped.
#[tokio::test]
async fn what_a_plugin_prints_during_a_call_goes_to_the_log() {
    let gw = host_calls(one_worker()).start();
    let mut c = Peer::connect(gw.addr()).await;
    let marker = format!("print-marker-{}", unix_now().as_nanos());
    let reply = c.invoke("print", json!(marker)).await;
    assert_eq!(reply, json!({"rid":reply["rid"]}));
    assert!(logged(&marker), "no log line with {marker}");
    // The worker is alive and the instance kept its state.
    assert_eq!(c.ok("kv-incr", json!({"key":"p","by":1})).await, json!(1));
    c.ok("print", json!("again")).await;
    gw.shutdown().await;
}

/// Regression: the same panic as above, in `init`: `scgate::plugin::load` panicked when called
/// inside a tokio runtime (as here), and so did each worker starting its instance.
#[tokio::test]
async fn what_a_plugin_prints_in_init_goes_to_the_log() {
    let gw = host_calls(base())
        .config("host-calls", "print_in_init = true")
        .start();
    assert!(logged("host-calls: init prints"));
    let mut a = Peer::connect(gw.addr()).await;
    let mut b = Peer::connect(gw.addr()).await;
    assert_ne!(a.worker(), b.worker());
    assert_eq!(a.ok("kv-incr", json!({"key":"n","by":1})).await, json!(1));
    assert_eq!(b.ok("kv-incr", json!({"key":"n","by":1})).await, json!(2));
    gw.shutdown().await;
}

#[tokio::test]
async fn now_ms_is_the_wall_clock() {
    let gw = host_calls(one_worker()).start();
    let mut c = Peer::connect(gw.addr()).await;
    let before = unix_now().as_millis() as u64;
    let now = c.ok("now", Value::Null).await.as_u64().expect("a number");
    let after = unix_now().as_millis() as u64;
    assert!(
        (before..=after).contains(&now),
        "{now} not in {before}..={after}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn whoami_shows_the_socket_id_query_and_auth_claims() {
    let gw = Setup::new(one_worker())
        .with("demo-login")
        .with("host-calls")
        .start();
    let mut c = Peer::connect_query(gw.addr(), "room=42&name=x%20y").await;
    assert_eq!(
        c.ok("whoami", Value::Null).await,
        json!({"id":c.id,"query":"room=42&name=x%20y","authToken":null})
    );
    c.ok("login", json!({"username":"dave","role":"admin"}))
        .await;
    let me = c.ok("whoami", Value::Null).await;
    assert_eq!(me["id"], c.id);
    assert_eq!(me["query"], "room=42&name=x%20y");
    let claims = &me["authToken"];
    assert_eq!(
        (&claims["username"], &claims["role"], &claims["channels"]),
        (&json!("dave"), &json!("admin"), &json!([]))
    );
    assert!(claims["iat"].is_u64() && claims["exp"].is_u64(), "{claims}");
    // Without a query: an empty string.
    let mut plain = Peer::connect(gw.addr()).await;
    assert_eq!(plain.ok("whoami", Value::Null).await["query"], "");
    gw.shutdown().await;
}

#[tokio::test]
async fn lifecycle_counts_connects_and_disconnects_with_the_close_code() {
    let gw = host_calls(base()).start();
    let mut a = Peer::connect(gw.addr()).await;
    let mut b = Peer::connect(gw.addr()).await;
    let mut c = Peer::connect(gw.addr()).await;
    // on-connect runs right after each handshake reply is queued, before any later event.
    assert_eq!(a.ok("kv-get", json!("connects")).await, json!("3"));
    assert_eq!(a.ok("kv-get", json!("disconnects")).await, Value::Null);
    // A connection that never completes its handshake is not counted either way.
    let never = Client::connect(gw.addr()).await;
    drop(never);

    // Server-side close through host::disconnect.
    b.send("drop", json!({"code":4321,"reason":"done"})).await;
    assert_eq!(b.closed().await.1, 4321);
    kv_eventually(&mut a, "disconnects", json!("1")).await;
    assert_eq!(
        a.ok("kv-get", json!("last-close-code")).await,
        json!("4321")
    );

    // Client-side close with a code of its own.
    c.client
        .ws
        .close(Some(CloseFrame {
            code: CloseCode::from(4777),
            reason: "client leaves".into(),
        }))
        .await
        .expect("close");
    kv_eventually(&mut a, "disconnects", json!("2")).await;
    assert_eq!(
        a.ok("kv-get", json!("last-close-code")).await,
        json!("4777")
    );
    assert_eq!(a.ok("kv-get", json!("connects")).await, json!("3"));

    // A connection dropped without a close frame: 1006.
    let mut d = Peer::connect(gw.addr()).await;
    kv_eventually(&mut a, "connects", json!("4")).await;
    d.stash.clear();
    drop(d);
    kv_eventually(&mut a, "disconnects", json!("3")).await;
    assert_eq!(
        a.ok("kv-get", json!("last-close-code")).await,
        json!("1006")
    );
    assert_eq!(a.ok("kv-get", json!("connects")).await, json!("4"));
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Misbehaving plugins.
// ---------------------------------------------------------------------------------------------

fn misbehave(settings: Settings) -> Setup {
    Setup::new(settings).with("misbehave")
}

/// The guest writes its panic or out-of-memory message to stderr before trapping (the
/// regression of `what_a_plugin_prints_during_a_call_goes_to_the_log`).
#[tokio::test]
async fn a_trap_answers_plugin_error_and_the_next_call_gets_a_fresh_instance() {
    let gw = misbehave(one_worker()).start();
    let mut c = Peer::connect(gw.addr()).await;
    assert_eq!(c.ok("count", Value::Null).await, json!(1));
    assert_eq!(c.ok("count", Value::Null).await, json!(2));
    let failures = || scgate::metrics::PLUGIN_FAILURES.load(std::sync::atomic::Ordering::Relaxed);
    let before = failures();
    let error = c.error("trap", Value::Null).await;
    assert!(failures() > before, "the trap was not counted");
    assert_eq!(error["name"], "PluginError", "{error}");
    let message = error["message"].as_str().expect("message");
    assert!(
        message.starts_with("plugin misbehave failed: "),
        "{message}"
    );
    // A short reason for the client: no guest backtrace (that goes to the log).
    assert!(
        !message.contains('\n') && !message.contains("backtrace"),
        "{message}"
    );
    // What the guest printed before trapping (its panic message, on the stub stderr) is logged.
    assert!(
        logged("misbehave: trap requested"),
        "the panic message was not logged"
    );
    // A fresh instance: the counter starts again; the socket is still usable.
    assert_eq!(c.ok("count", Value::Null).await, json!(1));
    assert_eq!(c.ok("count", Value::Null).await, json!(2));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_is_cut_at_the_deadline_while_other_sockets_keep_their_replies() {
    const LOAD: usize = 20;
    let gw = Setup::new(Settings {
        workers: 2,
        plugin_deadline_ms: 200,
        ..base()
    })
    .with("misbehave")
    .with("ping")
    .start();
    let addr = gw.addr();
    let stop = Arc::new(AtomicBool::new(false));
    // Pings answered so far, per load socket; and each socket's worker.
    let answered: Arc<Vec<AtomicU64>> = Arc::new((0..LOAD).map(|_| AtomicU64::new(0)).collect());
    let workers: Arc<Vec<AtomicU64>> =
        Arc::new((0..LOAD).map(|_| AtomicU64::new(u64::MAX)).collect());
    let mut tasks = Vec::new();
    for i in 0..LOAD {
        let (stop, answered, workers) = (stop.clone(), answered.clone(), workers.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Peer::connect(addr).await;
            workers[i].store(c.worker() as u64, Relaxed);
            let mut errors = Vec::new();
            let mut n = 0u64;
            while !stop.load(Relaxed) {
                n += 1;
                // A missing reply panics here (Client waits STEP per frame), failing the task.
                let reply = c.invoke("ping", json!(n)).await;
                if reply != json!({"rid":reply["rid"],"data":n}) {
                    errors.push(reply);
                }
                answered[i].fetch_add(1, Relaxed);
            }
            (n, errors)
        }));
    }
    let all_busy = eventually(STEP * 2, || answered.iter().all(|a| a.load(Relaxed) >= 3)).await;
    assert!(all_busy, "the load sockets did not get going");

    let mut looper = Peer::connect(addr).await;
    let other = 1 - looper.worker() as u64;
    let on_other = || -> u64 {
        (0..LOAD)
            .filter(|&i| workers[i].load(Relaxed) == other)
            .map(|i| answered[i].load(Relaxed))
            .sum()
    };
    let before = on_other();
    let started = Instant::now();
    let error = looper.error("loop", Value::Null).await;
    let took = started.elapsed();
    let during = on_other() - before;
    assert_eq!(
        error,
        json!({"name":"PluginError","message":"plugin misbehave failed: exceeded its CPU deadline of 200 ms"})
    );
    assert!(
        took >= Duration::from_millis(150) && took <= Duration::from_secs(2),
        "the loop was cut after {took:?}"
    );
    assert!(
        during > 0,
        "the other worker answered no ping while the loop ran"
    );

    // Let the load run on a little past the loop, then stop and count.
    let snapshot: Vec<u64> = answered.iter().map(|a| a.load(Relaxed)).collect();
    let moved_on = eventually(STEP, || {
        answered
            .iter()
            .zip(&snapshot)
            .all(|(a, s)| a.load(Relaxed) >= s + 3)
    })
    .await;
    assert!(moved_on, "some load sockets stalled after the loop");
    stop.store(true, Relaxed);
    let mut total = 0;
    for task in tasks {
        let (sent, errors) = task.await.expect("a load socket missed a reply");
        assert!(errors.is_empty(), "load errors: {errors:?}");
        total += sent;
    }
    let answered_total: u64 = answered.iter().map(|a| a.load(Relaxed)).sum();
    assert_eq!(answered_total, total, "every ping sent was answered");
    // The looping socket is fine, on a fresh instance.
    assert_eq!(looper.ok("count", Value::Null).await, json!(1));
    gw.shutdown().await;
}

/// The guest writes its panic or out-of-memory message to stderr before trapping (the
/// regression of `what_a_plugin_prints_during_a_call_goes_to_the_log`).
#[tokio::test]
async fn a_memory_hog_hits_the_cap_and_the_next_call_works() {
    let gw = misbehave(Settings {
        plugin_memory_bytes: 32 * 1024 * 1024,
        // Far past what filling 32 MiB takes, so the cap (not the deadline) stops it.
        plugin_deadline_ms: 5_000,
        ..one_worker()
    })
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    assert_eq!(c.ok("count", Value::Null).await, json!(1));
    let started = Instant::now();
    let error = c.error("hog", Value::Null).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error["name"], "PluginError", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("plugin misbehave failed: "), "{error}");
    assert!(!message.contains("deadline"), "{error}");
    // The guest's allocator reported the refused growth on stderr before aborting.
    assert!(
        logged("memory allocation of 1048576 bytes failed"),
        "the allocation failure was not logged"
    );
    assert_eq!(
        c.ok("count", Value::Null).await,
        json!(1),
        "a fresh instance"
    );
    // The fresh instance has its memory back: it can hog (and fail) again, and recover again.
    assert_eq!(c.error("hog", Value::Null).await["name"], "PluginError");
    assert_eq!(c.ok("count", Value::Null).await, json!(1));
    gw.shutdown().await;
}

/// A runaway recursion ends at the Wasm stack limit as a trap, not a crash of the worker.
#[tokio::test]
async fn a_runaway_recursion_traps_and_the_worker_survives() {
    let gw = misbehave(one_worker()).start();
    let mut c = Peer::connect(gw.addr()).await;
    assert_eq!(c.ok("count", Value::Null).await, json!(1));
    let error = c.error("recurse", Value::Null).await;
    assert_eq!(
        error,
        json!({"name":"PluginError","message":"plugin misbehave failed: trapped: wasm trap: call stack exhausted"})
    );
    assert_eq!(
        c.ok("count", Value::Null).await,
        json!(1),
        "a fresh instance"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn a_reply_over_the_message_limit_is_an_error_and_the_socket_stays_usable() {
    // Building and copying out 10 MB can take longer than 100 ms of wall time on a busy machine.
    let gw = misbehave(Settings {
        plugin_deadline_ms: 5_000,
        ..one_worker()
    })
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    let limit = base().max_message_bytes;
    let error = c.error("huge", json!(10_000_000)).await;
    assert_eq!(
        error,
        json!({
            "name":"PluginError",
            "message":format!("plugin misbehave failed: reply of 10000000 bytes is over the {limit}-byte limit")
        })
    );
    // The instance did not trap, so its state survives.
    assert_eq!(c.ok("count", Value::Null).await, json!(1));
    // A reply right at the limit goes through.
    let at_limit = c.ok("huge", json!(limit)).await;
    assert_eq!(at_limit.as_str().map(str::len), Some(limit - 2));
    assert_eq!(c.ok("count", Value::Null).await, json!(2));
    gw.shutdown().await;
}

#[tokio::test]
async fn a_slow_call_under_the_deadline_acks_normally() {
    // 50 ms of busy-waiting under a 250 ms CPU deadline (room for a slow debug build).
    let gw = misbehave(Settings {
        plugin_deadline_ms: 250,
        ..one_worker()
    })
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    let started = Instant::now();
    assert_eq!(c.ok("slow", json!(50)).await, json!("slow done"));
    // The guest waits until now-ms reaches its start + 50, on a clock in whole milliseconds.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(49), "{took:?}");
    assert_eq!(c.ok("count", Value::Null).await, json!(1), "no restart");
    gw.shutdown().await;
}

/// A guest that waits on WASI (here `std::thread::sleep`, a `wasi:clocks` pollable) cannot hold
/// its worker past the call's budget. Today the stub context's timers never fire during a call,
/// so the call is cut (`blocked on WASI past …`); a runtime that lets short sleeps finish passes
/// too.
#[tokio::test]
async fn a_guest_waiting_on_wasi_is_bounded_and_the_worker_stays_healthy() {
    let gw = host_calls(one_worker()).start();
    let mut c = Peer::connect(gw.addr()).await;
    c.ok("kv-set", json!({"key":"before","value":"1"})).await;
    let started = Instant::now();
    let reply = c.invoke("sleep", json!(5)).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the sleep held the call for {took:?}"
    );
    match reply.get("error") {
        None => assert_eq!(reply["data"], "slept"),
        Some(error) => {
            assert_eq!(error["name"], "PluginError", "{reply}");
            let message = error["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("plugin host-calls failed: blocked on WASI past "),
                "{reply}"
            );
        }
    }
    // The worker and the shared store are fine; the next call runs.
    assert_eq!(c.ok("kv-get", json!("before")).await, json!("1"));
    gw.shutdown().await;
}

/// The same two WASI paths on a thread with no tokio runtime, as `check-plugin`, the reload
/// thread and `benches/plugin_call.rs` call plugins: printing works, and a wait (a tokio timer
/// underneath, which panics outside a runtime unless the host provides one) is cut at the
/// budget. No gateway: a worker's hooks, called directly.
#[test]
fn a_guest_printing_and_waiting_outside_any_runtime_does_not_panic() {
    assert!(tokio::runtime::Handle::try_current().is_err());
    init_logs();
    let setup = host_calls(one_worker()).config("host-calls", "print_in_init = true");
    let hooks = setup.load().expect("host-calls loads")(0);
    let info = scgate::SocketInfo {
        id: "no-runtime-socket-000".into(),
        query: "".into(),
        worker: 0,
        auth_token: None,
    };
    let call = |event: &str, data: &str| {
        let data = serde_json::value::RawValue::from_string(data.into()).expect("json");
        hooks.on_event(&info, event, Some(&data), &mut scgate::Actions::default())
    };
    let marker = format!("no-runtime-print-{}", unix_now().as_nanos());
    assert!(matches!(
        call("print", &json!(marker).to_string()),
        scgate::Outcome::Ack(None)
    ));
    assert!(logged(&marker), "no log line with {marker}");
    let started = Instant::now();
    match call("sleep", "5") {
        scgate::Outcome::Fail(error) => assert!(
            error
                .message
                .starts_with("plugin host-calls failed: blocked on WASI past "),
            "{error:?}"
        ),
        other => panic!("the sleep was not cut: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    // A fresh instance serves the next call.
    assert!(matches!(call("now", "null"), scgate::Outcome::Ack(Some(_))));
}

#[tokio::test]
async fn a_chatty_call_gets_at_most_ten_thousand_host_calls() {
    let gw = misbehave(Settings {
        // Room for every accepted publish in the subscriber's queue.
        outbound_queue_frames: 20_000,
        // 100,000 host calls take longer than the default 100 ms in a debug build.
        plugin_deadline_ms: 10_000,
        ..one_worker()
    })
    .with("ping")
    .start();
    let mut c = Peer::connect(gw.addr()).await;
    let mut subscriber = Peer::connect(gw.addr()).await;
    subscriber.subscribe("chatty").await;
    let ack = c.ok("chatty", Value::Null).await;
    assert_eq!(ack, json!({"ok":10_000,"failed":90_000}));
    // Exactly the accepted publishes went out, in order, and nothing after them.
    c.publish("chatty", json!("end")).await;
    for i in 0..10_000 {
        assert_eq!(subscriber.delivery().await, ("chatty".into(), json!(i)));
    }
    assert_eq!(subscriber.delivery().await, ("chatty".into(), json!("end")));
    // The gateway is healthy: the same instance answers, and so do other plugins.
    assert_eq!(c.ok("count", Value::Null).await, json!(1));
    assert_eq!(subscriber.ok("ping", json!("ok")).await, json!("ok"));
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Plugins that fail to load.
// ---------------------------------------------------------------------------------------------

#[test]
fn an_init_error_fails_the_load_with_its_message() {
    let error = Setup::new(base()).with("bad-init").load_error();
    assert!(error.contains("plugin bad-init failed to start"), "{error}");
    assert!(error.contains("bad-init refuses to start"), "{error}");
}

#[test]
fn an_init_trap_fails_the_load() {
    let error = Setup::new(base()).with("init-trap").load_error();
    assert!(
        error.contains("plugin init-trap failed to start"),
        "{error}"
    );
}

#[test]
fn a_wasi_plugin_without_wasi_true_is_refused_with_a_hint() {
    let error = Setup::new(base()).copy("ping").load_error();
    assert!(
        error.contains("plugin ping does not link against the scgate WIT"),
        "{error}"
    );
    assert!(error.contains("wasi = true"), "{error}");
    // `wasi = false` is the same as no key.
    let error = Setup::new(base())
        .copy("ping")
        .config("ping", "wasi = false")
        .load_error();
    assert!(error.contains("wasi = true"), "{error}");
}

#[test]
fn a_component_over_the_size_cap_is_refused() {
    let size = std::fs::metadata(dist("ping.wasm"))
        .expect("ping.wasm")
        .len();
    let error = Setup::new(Settings {
        plugin_max_component_bytes: size as usize - 1,
        ..base()
    })
    .with("ping")
    .load_error();
    assert!(
        error.contains(&format!(
            "is {size} bytes, over plugin_max_component_bytes ({})",
            size - 1
        )),
        "{error}"
    );
    // Exactly at the cap it loads.
    let at_cap = Setup::new(Settings {
        plugin_max_component_bytes: size as usize,
        ..base()
    })
    .with("ping");
    assert!(at_cap.load().is_ok());
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let error = Setup::new(base())
        .raw("junk", &noise)
        .config("junk", "wasi = true")
        .load_error();
    assert!(
        error.contains("junk.wasm is not a valid component"),
        "{error}"
    );
    // A core module is not a component either.
    let core = b"\0asm\x01\0\0\0";
    let error = Setup::new(base()).raw("core", core).load_error();
    assert!(
        error.contains("core.wasm is not a valid component"),
        "{error}"
    );
}

#[test]
fn bad_host_keys_and_bad_plugin_config_fail_the_load() {
    let error = Setup::new(base())
        .copy("ping")
        .config("ping", r#"wasi = "yes""#)
        .load_error();
    assert!(error.contains("[plugins.ping]"), "{error}");
    assert!(error.contains("`wasi` must be true or false"), "{error}");
    let error = Setup::new(base())
        .with("ping")
        .config("ping", "order = 1.5")
        .load_error();
    assert!(error.contains("`order` must be an integer"), "{error}");
    // The plugin's own keys go to its init, which may refuse them.
    let error = Setup::new(base())
        .with("access-control")
        .config("access-control", "forbidden = 5")
        .load_error();
    assert!(
        error.contains("plugin access-control failed to start"),
        "{error}"
    );
    assert!(error.contains("access-control: bad config"), "{error}");
}

#[tokio::test]
async fn a_plugin_table_with_file_loads_a_component_from_anywhere() {
    // The plugins folder stays empty; the table names the file.
    let setup = Setup::new(one_worker()).config(
        "pinger",
        &format!(
            "wasi = true\nfile = {:?}",
            dist("ping.wasm").to_str().expect("utf-8")
        ),
    );
    let missing = Setup::new(base()).config("ghost", "file = \"/nonexistent/ghost.wasm\"");
    let error = missing.load_error();
    assert!(
        error.contains("cannot read /nonexistent/ghost.wasm"),
        "{error}"
    );
    let gw = setup.start();
    let mut c = Peer::connect(gw.addr()).await;
    assert_eq!(c.ok("ping", json!("via file")).await, json!("via file"));
    gw.shutdown().await;
}

#[test]
fn a_table_that_names_no_plugin_is_ignored_with_a_warning() {
    init_logs();
    let setup = Setup::new(base())
        .with("ping")
        .config("pnig", "wasi = true");
    assert!(setup.load().is_ok());
    assert!(
        logged("[plugins.pnig] matches no pnig.wasm in plugins_dir and has no `file`: ignored"),
        "no warning for the stray table"
    );
}
