//! A client on a raw TCP stream that writes whatever frames a test wants and reads only when
//! told to: what an attacker's client does, and what no library client can.
#![allow(dead_code)]

use crate::common::STEP;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

pub const UPGRADE: &str =
    "GET /socketcluster/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
pub const HANDSHAKE: &str = r##"{"event":"#handshake","data":{},"cid":1}"##;
pub const TEXT: u8 = 0x1;
pub const CONTINUATION: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const FIN: u8 = 0x80;

/// A masked client frame.
pub fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![b0];
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A whole text message.
pub fn text(payload: &str) -> Vec<u8> {
    frame(FIN | TEXT, payload.as_bytes())
}

/// A close frame with `code`.
pub fn close(code: u16) -> Vec<u8> {
    frame(FIN | CLOSE, &code.to_be_bytes())
}

pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Upgrades with `request` (a whole HTTP request) and returns the client, or the response
    /// head when the gateway did not answer 101.
    pub async fn upgrade_request(addr: SocketAddr, request: &str) -> Result<Raw, String> {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("write upgrade");
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        let end = loop {
            if let Some(at) = raw.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if !raw.fill().await {
                return Err(String::from_utf8_lossy(&raw.buf).into_owned());
            }
        };
        let head = String::from_utf8_lossy(&raw.buf[..end]).to_string();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(head);
        }
        raw.buf.drain(..end);
        Ok(raw)
    }

    pub async fn upgrade(addr: SocketAddr) -> Raw {
        Raw::upgrade_request(addr, UPGRADE)
            .await
            .unwrap_or_else(|head| panic!("no upgrade: {head}"))
    }

    /// Upgrades and completes the SocketCluster handshake.
    pub async fn handshaken(addr: SocketAddr) -> Raw {
        let mut raw = Raw::upgrade(addr).await;
        raw.send(&text(HANDSHAKE)).await;
        assert_eq!(raw.json().await["rid"], 1);
        raw
    }

    /// Reads more bytes; false at the end of the stream (or a reset).
    pub async fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = timeout(STEP, self.stream.read(&mut chunk))
            .await
            .expect("timed out reading")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Writes `bytes`; false if the gateway took none of them within `wait` (it stopped
    /// reading) or the connection failed.
    pub async fn try_send(&mut self, bytes: &[u8], wait: Duration) -> bool {
        matches!(
            timeout(wait, self.stream.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// The next server frame (opcode, payload); `None` at the end of the stream.
    pub async fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let (len, at) = match self.buf[1] & 0x7F {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => {
                        let bytes: [u8; 8] = self.buf[2..10].try_into().unwrap();
                        (u64::from_be_bytes(bytes) as usize, 10)
                    }
                    126 | 127 => (usize::MAX, 0),
                    len => (len as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let opcode = self.buf[0] & 0x0F;
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((opcode, payload));
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// The next text frame as JSON, skipping the gateway's heartbeats.
    pub async fn json(&mut self) -> Value {
        loop {
            let (opcode, payload) = self.next().await.expect("stream ended");
            if opcode != TEXT {
                continue;
            }
            let text = String::from_utf8(payload).expect("utf-8");
            if text != "#1" && !text.is_empty() {
                return serde_json::from_str(&text).expect("json");
            }
        }
    }

    /// The close frame the gateway sends, as (code, reason), skipping what comes before it;
    /// `None` if the stream ends without one.
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        loop {
            let (opcode, payload) = self.next().await?;
            if opcode == CLOSE {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = String::from_utf8_lossy(&payload[2..]).into_owned();
                return Some((code, reason));
            }
        }
    }
}
