//! Test support: a real gateway on port 0 and a raw WebSocket client that speaks the protocol.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use scgate::config::{ProtocolMode, Settings};
use scgate::protocol::ErrorObject;
use scgate::{Actions, Hooks, HooksFactory, Outcome, ServerHandle, SocketInfo};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expected frame may take before a test fails.
pub const STEP: Duration = Duration::from_secs(5);

/// Settings for tests: loopback, two workers, a fast heartbeat, no static files.
pub fn settings() -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port: 0,
        workers: 2,
        ping_interval_ms: 1_000,
        ping_timeout_ms: 3_000,
        public_dir: String::new(),
        ..Settings::default()
    }
}

/// Test hooks: `echo` acks its data, `fail` fails with a custom error, `publish` publishes
/// `{channel,data}` from the server side.
pub struct TestHooks;

impl Hooks for TestHooks {
    fn on_event(
        &self,
        _: &SocketInfo,
        event: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Outcome {
        match event {
            "echo" | "connect" => Outcome::Ack(data.map(|d| d.to_owned())),
            "fail" => {
                Outcome::Fail(ErrorObject::new("CustomError", "Custom failure").with("extra", 42))
            }
            "publish" => {
                let v: Value =
                    serde_json::from_str(data.map_or("null", RawValue::get)).unwrap_or_default();
                let channel = v["channel"].as_str().unwrap_or_default().to_owned();
                actions.publish(channel, scgate::protocol::encode::raw(&v["data"]));
                Outcome::Ack(None)
            }
            _ => Outcome::Unhandled,
        }
    }
}

pub fn test_hooks() -> HooksFactory {
    Arc::new(|_| Rc::new(TestHooks))
}

/// Starts a gateway with `settings` and the test hooks, and an admin listener on a free
/// loopback port (`ServerHandle::admin_addr`).
pub fn start(settings: Settings) -> ServerHandle {
    start_with(settings, test_hooks())
}

/// Starts a gateway with `settings` and `hooks`, and an admin listener on a free loopback port.
pub fn start_with(settings: Settings, hooks: HooksFactory) -> ServerHandle {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("TEST_LOG").unwrap_or_default())
        .with_test_writer()
        .try_init();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let admin = std::net::TcpListener::bind("127.0.0.1:0").expect("bind admin");
    scgate::server::start_with_admin(settings, listener, Some(admin), hooks).expect("start")
}

/// One blocking HTTP/1.1 request (`GET` unless `request_line` says otherwise: pass the
/// method and path, e.g. `"POST /x"`); returns the whole response text.
pub fn http(addr: SocketAddr, request_line: &str, extra_headers: &str) -> String {
    use std::io::{Read, Write};
    let request_line = if request_line.starts_with('/') {
        format!("GET {request_line}")
    } else {
        request_line.to_owned()
    };
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(STEP)).expect("timeout");
    // A refused connection may be closed before the request is written; the answer is still
    // there to read.
    let _ = write!(
        stream,
        "{request_line} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra_headers}\r\n"
    );
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// [`http`] from async code.
pub async fn http_async(addr: SocketAddr, request_line: &str, extra_headers: &str) -> String {
    let (line, headers) = (request_line.to_owned(), extra_headers.to_owned());
    tokio::task::spawn_blocking(move || http(addr, &line, &headers))
        .await
        .expect("http task")
}

pub fn with_protocol(mode: ProtocolMode) -> Settings {
    Settings {
        protocol: mode,
        ..settings()
    }
}

/// What a client saw next.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Text(String),
    Closed(u16, String),
    Gone,
}

/// A raw protocol client.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_cid: u64,
    /// Answer `#1`/`''` pings automatically while waiting for other frames.
    pub auto_pong: bool,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Self::connect_path(addr, "/socketcluster/").await
    }

    pub async fn connect_path(addr: SocketAddr, path: &str) -> Client {
        let url = format!("ws://{addr}{path}");
        let (ws, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timed out")
            .expect("connect");
        Client {
            ws,
            next_cid: 1,
            auto_pong: true,
        }
    }

    /// Connects and completes the handshake; returns the handshake data.
    pub async fn connected(addr: SocketAddr) -> (Client, Value) {
        let mut client = Client::connect(addr).await;
        let data = client.handshake().await;
        (client, data)
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn send_json(&mut self, v: Value) {
        self.send(&v.to_string()).await;
    }

    pub fn cid(&mut self) -> u64 {
        let cid = self.next_cid;
        self.next_cid += 1;
        cid
    }

    /// The next frame, raw (pings included), or the close.
    pub async fn next_raw(&mut self) -> Seen {
        loop {
            let next = tokio::time::timeout(STEP, self.ws.next())
                .await
                .expect("no frame in time");
            return match next {
                Some(Ok(Message::Text(t))) => Seen::Text(t.to_string()),
                Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
                Some(Ok(Message::Close(Some(f)))) => {
                    Seen::Closed(f.code.into(), f.reason.to_string())
                }
                Some(Ok(Message::Close(None))) => Seen::Closed(1005, String::new()),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Seen::Gone,
            };
        }
    }

    /// The next JSON frame, answering pings on the way if `auto_pong`.
    pub async fn next_json(&mut self) -> Value {
        loop {
            match self.next_raw().await {
                Seen::Text(t) if t == "#1" => {
                    if self.auto_pong {
                        self.send("#2").await;
                    }
                }
                Seen::Text(t) if t.is_empty() => {
                    if self.auto_pong {
                        self.send("").await;
                    }
                }
                Seen::Text(t) => {
                    return serde_json::from_str(&t).expect("server sent invalid JSON")
                }
                other => panic!("expected a JSON frame, got {other:?}"),
            }
        }
    }

    /// Waits for the close frame, skipping anything before it; returns (code, reason).
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.next_raw().await {
                Seen::Closed(code, reason) => return (code, reason),
                Seen::Gone => panic!("connection dropped without a close frame"),
                Seen::Text(_) => {}
            }
        }
    }

    pub async fn handshake(&mut self) -> Value {
        let cid = self.cid();
        self.send_json(json!({"event":"#handshake","data":{"authToken":null},"cid":cid}))
            .await;
        let reply = self.next_json().await;
        assert_eq!(reply["rid"], cid, "handshake reply: {reply}");
        reply["data"].clone()
    }

    /// Sends an event with a cid and returns the reply with that rid (other frames are skipped).
    pub async fn invoke(&mut self, event: &str, data: Value) -> Value {
        let cid = self.cid();
        self.send_json(json!({"event":event,"data":data,"cid":cid}))
            .await;
        self.reply_to(cid).await
    }

    pub async fn reply_to(&mut self, cid: u64) -> Value {
        loop {
            let v = self.next_json().await;
            if v["rid"] == cid {
                return v;
            }
        }
    }

    pub async fn subscribe(&mut self, channel: &str) {
        let reply = self.invoke("#subscribe", json!({"channel":channel})).await;
        assert!(reply.get("error").is_none(), "subscribe failed: {reply}");
    }

    /// The next `#publish` delivery's `data` (with its channel), skipping other frames.
    pub async fn delivery(&mut self) -> (String, Value) {
        loop {
            let v = self.next_json().await;
            if v["event"] == "#publish" {
                return (
                    v["data"]["channel"].as_str().unwrap_or_default().to_owned(),
                    v["data"]["data"].clone(),
                );
            }
        }
    }
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// `scgate serve` (the real binary) on a free loopback port, its admin listener on another,
/// without static files: what every test of the binary starts from.
pub fn serve_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scgate"));
    command.args([
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--admin-port",
        "0",
        "--public-dir",
        "",
    ]);
    command
}

/// The addresses in the READY and ADMIN lines a started `scgate serve` prints first on stdout
/// (an admin listener is expected: [`serve_command`] asks for one).
pub fn ready_addrs(stdout: std::process::ChildStdout) -> (SocketAddr, SocketAddr) {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut next = |prefix: &str| -> SocketAddr {
        let line = lines.next().expect("no line").expect("read stdout");
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .parse()
            .expect("an address")
    };
    let public = next("scgate READY listening on http://");
    let admin = next("scgate ADMIN listening on http://");
    (public, admin)
}

/// The address in the READY line a started `scgate serve` prints first on stdout.
pub fn ready_addr(stdout: std::process::ChildStdout) -> SocketAddr {
    use std::io::BufRead;
    let line = std::io::BufReader::new(stdout)
        .lines()
        .next()
        .expect("no READY line")
        .expect("read stdout");
    line.strip_prefix("scgate READY listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("an address")
}
