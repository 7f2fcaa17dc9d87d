//! The WebSocket layer on the wire (RFC 6455), against a real gateway, with a client that writes
//! raw frames: what a library client never sends (unmasked frames, broken UTF-8), fragments,
//! heartbeats, pipelined requests, bytes sent along with the upgrade request, the close handshake.

mod common;

use common::{settings, start, STEP};
use scgate::config::Settings;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const UPGRADE: &str = "GET /socketcluster/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
const HANDSHAKE: &str = r##"{"event":"#handshake","data":{},"cid":1}"##;
const TEXT: u8 = 0x1;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
const FIN: u8 = 0x80;

/// A client frame: masked unless told otherwise.
fn frame(b0: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![b0];
    let bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(bit | len as u8),
        len @ 126..=0xFFFF => {
            out.push(bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

fn text(payload: &str) -> Vec<u8> {
    frame(FIN | TEXT, payload.as_bytes(), true)
}

/// A client on a raw TCP stream.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Upgrades, sending `after` in the same write as the request.
    async fn upgrade_with(addr: std::net::SocketAddr, after: &[u8]) -> Raw {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut request = UPGRADE.as_bytes().to_vec();
        request.extend_from_slice(after);
        stream.write_all(&request).await.expect("write upgrade");
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        let end = loop {
            if let Some(at) = raw.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            assert!(raw.fill().await, "closed during the upgrade");
        };
        let head = String::from_utf8_lossy(&raw.buf[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        raw.buf.drain(..end);
        raw
    }

    async fn upgrade(addr: std::net::SocketAddr) -> Raw {
        Raw::upgrade_with(addr, &[]).await
    }

    /// Upgrades and completes the SocketCluster handshake.
    async fn handshaken(addr: std::net::SocketAddr) -> Raw {
        let mut raw = Raw::upgrade(addr).await;
        raw.send(&text(HANDSHAKE)).await;
        assert_eq!(raw.json().await["rid"], 1);
        raw
    }

    /// Reads more bytes; false at the end of the stream.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        let n = timeout(STEP, self.stream.read(&mut chunk))
            .await
            .expect("timed out reading")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next server frame (opcode, payload); `None` at the end of the stream. Server frames
    /// are unmasked and unfragmented.
    async fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "server frames are not masked");
                assert_ne!(self.buf[0] & FIN, 0, "server frames are not fragmented");
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
    async fn json(&mut self) -> Value {
        loop {
            let (opcode, payload) = self.next().await.expect("stream ended");
            assert_eq!(opcode, TEXT, "{payload:?}");
            let text = String::from_utf8(payload).expect("utf-8");
            if text != "#1" && !text.is_empty() {
                return serde_json::from_str(&text).expect("json");
            }
        }
    }

    /// The close frame the gateway sends, as (code, reason), then the end of the stream.
    async fn closed(&mut self) -> (u16, String) {
        loop {
            let (opcode, payload) = self.next().await.expect("no close frame");
            if opcode == CLOSE {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = String::from_utf8(payload[2..].to_vec()).expect("utf-8 reason");
                return (code, reason);
            }
        }
    }

    /// Whether the gateway ends the TCP stream (after frames already sent).
    async fn ends(&mut self) -> bool {
        while let Some((opcode, _)) = self.next().await {
            assert_ne!(opcode, TEXT, "data after the close handshake");
        }
        true
    }
}

fn one_worker() -> Settings {
    Settings {
        workers: 1,
        ..settings()
    }
}

#[tokio::test]
async fn frames_sent_with_the_upgrade_request_are_not_lost() {
    let server = start(one_worker());
    let mut c = Raw::upgrade_with(server.local_addr(), &text(HANDSHAKE)).await;
    let reply = c.json().await;
    assert_eq!(reply["rid"], 1, "{reply}");
    assert!(reply["data"]["id"].is_string(), "{reply}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_fragmented_message_is_reassembled_and_a_ping_between_fragments_is_answered() {
    let server = start(one_worker());
    let mut c = Raw::upgrade(server.local_addr()).await;
    let (a, rest) = HANDSHAKE.split_at(10);
    let (b, d) = rest.split_at(15);
    let mut bytes = frame(TEXT, a.as_bytes(), true);
    bytes.extend(frame(CONTINUATION, b.as_bytes(), true));
    bytes.extend(frame(FIN | PING, b"are you there", true));
    bytes.extend(frame(FIN | CONTINUATION, d.as_bytes(), true));
    c.send(&bytes).await;
    assert_eq!(c.next().await, Some((PONG, b"are you there".to_vec())));
    assert_eq!(c.json().await["rid"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_all_answered_in_order() {
    let server = start(one_worker());
    let mut c = Raw::upgrade(server.local_addr()).await;
    let mut bytes = text(HANDSHAKE);
    for cid in 2..=40 {
        bytes.extend(text(
            &json!({"event":"echo","data":cid,"cid":cid}).to_string(),
        ));
    }
    // Split mid-frame too: the rest of a frame arrives in a later read.
    let (first, second) = bytes.split_at(bytes.len() / 2 + 3);
    c.send(first).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    c.send(second).await;
    assert_eq!(c.json().await["rid"], 1);
    for cid in 2..=40 {
        assert_eq!(c.json().await, json!({"rid":cid,"data":cid}));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_unmasked_frame_fails_the_connection_with_1002() {
    let server = start(one_worker());
    let mut c = Raw::upgrade(server.local_addr()).await;
    c.send(&frame(FIN | TEXT, HANDSHAKE.as_bytes(), false))
        .await;
    assert_eq!(c.closed().await.0, 1002);
    assert!(c.ends().await);
    // The gateway serves the next client.
    Raw::handshaken(server.local_addr()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_text_message_that_is_not_utf8_closes_1007() {
    let server = start(one_worker());
    let mut c = Raw::upgrade(server.local_addr()).await;
    c.send(&frame(FIN | TEXT, b"{\"event\":\"\xff\xfe\"}", true))
        .await;
    assert_eq!(c.closed().await.0, 1007);
    assert!(c.ends().await);
    server.shutdown().await;
}

#[tokio::test]
async fn the_peers_close_is_echoed_and_the_connection_ends() {
    let server = start(one_worker());
    let mut c = Raw::handshaken(server.local_addr()).await;
    let mut payload = 4321u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    c.send(&frame(FIN | CLOSE, &payload, true)).await;
    assert_eq!(c.closed().await.0, 4321);
    assert!(c.ends().await);
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_fragmented_message_closes_1009_and_the_close_reply_is_still_read() {
    let server = start(Settings {
        max_message_bytes: 4096,
        ..one_worker()
    });
    let mut c = Raw::handshaken(server.local_addr()).await;
    let chunk = vec![b'x'; 3000];
    let mut bytes = frame(TEXT, &chunk, true);
    bytes.extend(frame(FIN | CONTINUATION, &chunk, true));
    c.send(&bytes).await;
    assert_eq!(c.closed().await.0, 1009);
    // The refused payload was skipped: the client's close reply is read and ends the socket
    // at once, not after the close linger.
    let started = std::time::Instant::now();
    c.send(&frame(FIN | CLOSE, &1009u16.to_be_bytes(), true))
        .await;
    assert!(c.ends().await);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    server.shutdown().await;
}
