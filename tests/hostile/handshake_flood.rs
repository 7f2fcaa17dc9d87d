//! Item 2: control frames bypassed the outbound bound. Handshake replies, `#setAuthToken`,
//! `#removeAuthToken` and error replies skipped `outbound_queue_frames` and the slow-consumer
//! policy, and a second `#handshake` was answered as if it were the first. Every frame now
//! counts (frames and bytes), a second `#handshake` is refused, and the policy applies to all.

use crate::common::{self, settings, start, Client};
use crate::raw::{text, Raw};
use scgate::config::Settings;
use serde_json::json;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

#[tokio::test]
async fn a_batch_of_handshakes_from_a_client_that_never_reads_is_a_slow_consumer() {
    let server = start(Settings {
        workers: 1,
        outbound_queue_frames: 64,
        ..settings()
    });
    let mut raw = Raw::handshaken(server.local_addr()).await;
    let packets: Vec<String> = (2..20_000)
        .map(|cid| format!(r##"{{"event":"#handshake","data":{{}},"cid":{cid}}}"##))
        .collect();
    raw.send(&text(&format!("[{}]", packets.join(",")))).await;
    let (code, reason) = raw.closed().await.expect("no close frame");
    assert_eq!(
        (code, reason.as_str()),
        (4100, "Slow consumer: outbound queue full")
    );
    let metrics = server.gateway().metrics();
    assert_eq!(metrics.slow_consumer_disconnects.load(Relaxed), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_handshake_is_refused_and_changes_nothing() {
    let server = start(settings());
    let (mut client, first) = Client::connected(server.local_addr()).await;
    let again = client
        .invoke("#handshake", json!({"authToken": null}))
        .await;
    assert_eq!(again["error"]["name"], "InvalidActionError", "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already"),
        "{again}"
    );
    // Still the same socket, still working.
    assert_eq!(client.invoke("echo", json!(7)).await["data"], 7);
    assert!(first["id"].is_string());
    server.shutdown().await;
}

#[tokio::test]
async fn queued_bytes_count_against_outbound_queue_bytes() {
    let server = start(Settings {
        workers: 1,
        outbound_queue_bytes: 1024 * 1024,
        ..settings()
    });
    let addr = server.local_addr();
    let mut reader = Raw::handshaken(addr).await;
    reader
        .send(&text(
            r##"{"event":"#subscribe","data":{"channel":"big"},"cid":2}"##,
        ))
        .await;
    assert_eq!(reader.json().await["rid"], 2);
    // 200 messages of 100 KB: far under 1024 frames, far over 1 MB (and the socket buffers).
    let (mut publisher, _) = Client::connected(addr).await;
    let payload = "x".repeat(100 * 1024);
    for _ in 0..200 {
        let reply = publisher
            .invoke("#publish", json!({"channel": "big", "data": payload}))
            .await;
        assert!(reply.get("error").is_none(), "{reply}");
    }
    let closed = common::eventually(Duration::from_secs(5), || {
        server
            .gateway()
            .metrics()
            .slow_consumer_disconnects
            .load(Relaxed)
            == 1
    })
    .await;
    assert!(
        closed,
        "200 × 100 KB queued for a socket that does not read"
    );
    let (code, _) = reader.closed().await.expect("no close frame");
    assert_eq!(code, 4100);
    server.shutdown().await;
}
