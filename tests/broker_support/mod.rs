//! Test support for the distributed brokers: a real `redis-server` or `nats-server` per test on
//! a free port, which a test can kill (-9), restart on the same port, pause (SIGSTOP) and resume;
//! and the scenarios both engines must pass ([`scenarios`]).
#![allow(dead_code)]

pub mod faults;
pub mod nats;
pub mod scenarios;

/// An engine server process a test owns.
pub trait Engine: Send + Sync {
    /// Starts a fresh server on a free port.
    fn start() -> Self
    where
        Self: Sized;
    /// The `--broker` URL of this server.
    fn url(&self) -> String;
    /// SIGKILL.
    fn kill(&mut self);
    /// Starts the process again on the same port.
    fn restart(&mut self);
    /// SIGSTOP (`true`) or SIGCONT (`false`).
    fn pause(&self, stop: bool);
    /// The scgate channels the engine has subscribers for, sorted.
    fn engine_channels(&self) -> Vec<String>;
}

impl Engine for RedisServer {
    fn start() -> Self {
        RedisServer::start()
    }
    fn url(&self) -> String {
        RedisServer::url(self)
    }
    fn kill(&mut self) {
        RedisServer::kill(self)
    }
    fn restart(&mut self) {
        RedisServer::restart(self)
    }
    fn pause(&self, stop: bool) {
        RedisServer::pause(self, stop)
    }
    fn engine_channels(&self) -> Vec<String> {
        RedisServer::engine_channels(self)
    }
}

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh redis-server may take to accept connections on a loaded machine.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A redis-server process owned by one test; killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

/// A port that was free a moment ago (bind port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl RedisServer {
    /// Starts a redis-server with no persistence on a free port and waits until it answers.
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the process again on the same port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        wait_ready("redis-server", || self.ping().is_ok());
    }

    /// A fresh synchronous client connection, for checks from the test.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(self.url())?;
        client.get_connection_with_timeout(Duration::from_secs(1))
    }

    fn ping(&self) -> redis::RedisResult<String> {
        TcpStream::connect(("127.0.0.1", self.port))?;
        redis::cmd("PING").query(&mut self.connection()?)
    }

    /// SIGKILL: the engine dies without a word, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`): a stalled, not dead, engine.
    pub fn pause(&self, stop: bool) {
        signal(self.child.as_ref().expect("running"), stop);
    }

    /// The scgate channels Redis has subscribers for (`PUBSUB CHANNELS sc:ch:*`), sorted.
    pub fn engine_channels(&self) -> Vec<String> {
        let mut connection = self.connection().expect("redis connection");
        let mut names: Vec<String> = redis::cmd("PUBSUB")
            .arg("CHANNELS")
            .arg("sc:ch:*")
            .query(&mut connection)
            .expect("PUBSUB CHANNELS");
        names.sort();
        names
            .into_iter()
            .map(|n| n["sc:ch:".len()..].to_owned())
            .collect()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A stopped process must be continued so that it is reaped promptly.
            signal(child, false);
        }
        self.kill();
    }
}

/// SIGSTOP (`true`) or SIGCONT (`false`) to `child`.
pub fn signal(child: &Child, stop: bool) {
    let pid = child.id().to_string();
    let signal = if stop { "-STOP" } else { "-CONT" };
    let status = Command::new("kill").args([signal, &pid]).status();
    assert!(status.is_ok_and(|s| s.success()), "kill {signal} {pid}");
}

/// Waits until `ready` holds, or fails naming `what`.
pub fn wait_ready(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + READY_WITHIN;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Settings for a node on `url`: the test settings with the Redis broker.
pub fn node_settings(url: &str) -> scgate::config::Settings {
    scgate::config::Settings {
        broker: url.to_owned(),
        ..crate::common::settings()
    }
}
