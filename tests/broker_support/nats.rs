//! A real `nats-server` with JetStream for one test, with its monitoring port for checking
//! which subjects have subscribers.

use super::{free_port, signal, wait_ready, Engine};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// A nats-server process (`-js`, store in a temp folder) owned by one test; killed on drop.
pub struct NatsServer {
    port: u16,
    monitor: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// `GET path` on the monitoring port, body only.
    fn monitor_get(&self, path: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.monitor))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, body)| body.to_owned()))
    }
}

impl Engine for NatsServer {
    fn start() -> Self {
        let mut server = NatsServer {
            port: free_port(),
            monitor: free_port(),
            store: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        server.restart();
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        let store = self.store.path().to_string_lossy().into_owned();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-m", &self.monitor.to_string(), "-js", "-sd", &store])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        wait_ready("nats-server", || {
            TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.monitor_get("/healthz").is_ok_and(|b| b.contains("ok"))
        });
    }

    fn pause(&self, stop: bool) {
        signal(self.child.as_ref().expect("running"), stop);
    }

    fn engine_channels(&self) -> Vec<String> {
        let body = self.monitor_get("/subsz?subs=1").expect("monitoring port");
        let json: serde_json::Value = serde_json::from_str(&body).expect("subsz JSON");
        let list = json["subscriptions_list"].as_array().cloned();
        let mut names: Vec<String> = list
            .unwrap_or_default()
            .iter()
            .filter_map(|sub| {
                sub["subject"]
                    .as_str()?
                    .strip_prefix("sc.ch.c")
                    .map(str::to_owned)
            })
            .filter_map(|encoded| String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            signal(child, false);
        }
        self.kill();
    }
}
