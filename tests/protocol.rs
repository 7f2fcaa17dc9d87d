//! The SocketCluster protocol on the wire, against a real gateway: handshake rules, heartbeats,
//! guards, error objects and limits (`sc-protocol.md` sections 1–9, 11, 13, 14 and Appendix C).

mod common;

use common::{settings, start, with_protocol, Client, Seen};
use scgate::config::{ProtocolMode, Settings};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn handshake_reply_has_id_ping_timeout_and_auth_state() {
    let server = start(settings());
    let (_a, a) = Client::connected(server.local_addr()).await;
    let (_b, b) = Client::connected(server.local_addr()).await;
    assert!(a["id"].as_str().is_some_and(|id| !id.is_empty()), "{a}");
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["pingTimeout"], 3000);
    assert_eq!(a["isAuthenticated"], false);
    server.shutdown().await;
}

#[tokio::test]
async fn handshake_without_data_and_with_a_query_string_is_accepted() {
    let server = start(settings());
    let mut c = Client::connect_path(server.local_addr(), "/socketcluster/?a=1&t=2").await;
    c.send(r##"{"event":"#handshake","cid":1}"##).await;
    let reply = c.next_json().await;
    assert_eq!(reply["rid"], 1);
    assert!(reply["data"]["id"].is_string());
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_handshakes_close_4008() {
    let server = start(settings());
    for frame in [
        r##"{"event":"#handshake","data":{"authToken":null}}"##,
        r##"{"event":"#handshake","data":{},"cid":"abc"}"##,
        r##"{"event":"#handshake","data":5,"cid":1}"##,
    ] {
        let mut c = Client::connect(server.local_addr()).await;
        c.send(frame).await;
        assert_eq!(c.closed().await.0, 4008, "for {frame}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn anything_before_the_handshake_closes_4009() {
    let server = start(settings());
    for frame in [
        r#"{"event":"ping","data":1,"cid":1}"#,
        "#2",
        "",
        "{not json",
        r#"{"rid":1}"#,
    ] {
        let mut c = Client::connect(server.local_addr()).await;
        c.send(frame).await;
        assert_eq!(c.closed().await.0, 4009, "for {frame:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn no_handshake_closes_4005_after_the_timeout_with_disconnect_event_for_v1() {
    let server = start(Settings {
        handshake_timeout_ms: 300,
        ..with_protocol(ProtocolMode::V1)
    });
    let mut c = Client::connect(server.local_addr()).await;
    let started = Instant::now();
    let event = c.next_json().await;
    assert_eq!(
        event,
        json!({"event":"#disconnect","data":{"code":4005,"data":"Did not receive #handshake from client before timeout"}})
    );
    assert_eq!(c.closed().await.0, 4005);
    assert!(started.elapsed() >= Duration::from_millis(250));
    server.shutdown().await;
}

#[tokio::test]
async fn a_batch_starting_with_the_handshake_is_processed_in_order() {
    let server = start(settings());
    let mut c = Client::connect(server.local_addr()).await;
    c.send(r##"[{"event":"#handshake","cid":1},{"event":"echo","data":"x","cid":2}]"##)
        .await;
    assert_eq!(c.next_json().await["rid"], 1);
    assert_eq!(c.next_json().await, json!({"rid":2,"data":"x"}));
    server.shutdown().await;
}

#[tokio::test]
async fn batches_after_the_handshake_run_every_packet_in_order() {
    let server = start(settings());
    let (mut c, _) = Client::connected(server.local_addr()).await;
    c.send(r##"[{"event":"#subscribe","data":{"channel":"b"},"cid":10},{"event":"echo","data":1,"cid":11},{"event":"#publish","data":{"channel":"b","data":"m"},"cid":12}]"##).await;
    assert_eq!(c.next_json().await, json!({"rid":10}));
    assert_eq!(c.next_json().await, json!({"rid":11,"data":1}));
    let mut rest = [c.next_json().await, c.next_json().await];
    rest.sort_by_key(|v| v.get("rid").is_some());
    assert_eq!(
        rest[0],
        json!({"event":"#publish","data":{"channel":"b","data":"m"}})
    );
    assert_eq!(rest[1], json!({"rid":12}));
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_json_raw_messages_and_responses_are_ignored() {
    let server = start(settings());
    let (mut c, _) = Client::connected(server.local_addr()).await;
    for junk in [
        "{not json",
        "hello raw",
        r#"{"foo":1}"#,
        r#"{"rid":99,"data":1}"#,
        "#1",
        "[1,2",
    ] {
        c.send(junk).await;
    }
    assert_eq!(
        c.invoke("echo", json!("still here")).await["data"],
        "still here"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn binary_frames_are_handled_like_text() {
    let server = start(settings());
    let (mut c, _) = Client::connected(server.local_addr()).await;
    use futures_util::SinkExt;
    let frame = br#"{"event":"echo","data":{"b":1},"cid":5}"#.to_vec();
    c.ws.send(tokio_tungstenite::tungstenite::Message::binary(frame))
        .await
        .unwrap();
    assert_eq!(c.next_json().await, json!({"rid":5,"data":{"b":1}}));
    server.shutdown().await;
}

#[tokio::test]
async fn acks_keep_data_exactly_including_null_unicode_and_large_payloads() {
    let server = start(settings());
    let (mut c, _) = Client::connected(server.local_addr()).await;
    let big = "x".repeat(1_000_000);
    for data in [
        json!({"a":[1,2,{"b":null}]}),
        json!("héllo ☃ 🎉"),
        json!(42.5),
        json!(null),
        json!(big),
    ] {
        assert_eq!(c.invoke("echo", data.clone()).await["data"], data);
    }
    // No `data` key at all: the reply has none either.
    c.send(r#"{"event":"echo","cid":77}"#).await;
    assert_eq!(c.reply_to(77).await, json!({"rid":77}));
    server.shutdown().await;
}

#[tokio::test]
async fn handler_errors_arrive_as_error_objects() {
    let server = start(settings());
    let (mut c, _) = Client::connected(server.local_addr()).await;
    let reply = c.invoke("fail", json!(null)).await;
    assert_eq!(
        reply["error"],
        json!({"name":"CustomError","message":"Custom failure","extra":42})
    );
    assert!(reply.get("data").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn unhandled_reserved_and_server_local_events_get_no_reply() {
    let server = start(settings());
    let (mut c, _) = Client::connected(server.local_addr()).await;
    // `connect` would be echoed by the test hooks, but is a v14 server-local event name.
    c.send(r#"{"event":"nohandler","data":1,"cid":40}"#).await;
    c.send(r##"{"event":"#foo","data":1,"cid":41}"##).await;
    c.send(r#"{"event":"connect","data":1,"cid":42}"#).await;
    c.send(r#"{"event":"echo","data":"after","cid":43}"#).await;
    assert_eq!(c.next_json().await, json!({"rid":43,"data":"after"}));
    server.shutdown().await;
}

#[tokio::test]
async fn events_without_cid_or_with_a_non_numeric_cid_get_no_reply() {
    let server = start(settings());
    let (mut c, _) = Client::connected(server.local_addr()).await;
    c.send(r#"{"event":"echo","data":1}"#).await;
    c.send(r#"{"event":"echo","data":2,"cid":"abc"}"#).await;
    c.send(r#"{"event":"echo","data":3,"cid":9}"#).await;
    assert_eq!(c.next_json().await, json!({"rid":9,"data":3}));
    server.shutdown().await;
}

/// Collects the heartbeat strings a silent client receives in `window`, answering with `pong`
/// after the first one if given.
async fn pings_seen(c: &mut Client, count: usize, pong: Option<&str>) -> Vec<String> {
    c.auto_pong = false;
    let mut seen = Vec::new();
    while seen.len() < count {
        match c.next_raw().await {
            Seen::Text(t) if t == "#1" || t.is_empty() => {
                if let Some(p) = pong {
                    c.send(p).await;
                }
                seen.push(t)
            }
            Seen::Text(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    seen
}

fn fast(mode: ProtocolMode) -> Settings {
    Settings {
        ping_interval_ms: 100,
        ping_timeout_ms: 1_000,
        ..with_protocol(mode)
    }
}

#[tokio::test]
async fn v1_listeners_ping_with_hash_one_and_v2_with_the_empty_string() {
    for (mode, ping) in [(ProtocolMode::V1, "#1"), (ProtocolMode::V2, "")] {
        let server = start(fast(mode));
        let (mut c, _) = Client::connected(server.local_addr()).await;
        let seen = pings_seen(&mut c, 4, None).await;
        assert!(seen.iter().all(|p| p == ping), "{mode:?}: {seen:?}");
        server.shutdown().await;
    }
}

#[tokio::test]
async fn auto_listeners_send_both_pings_until_the_first_pong_then_only_that_generation() {
    for (pong, ping) in [("#2", "#1"), ("", "")] {
        let server = start(fast(ProtocolMode::Auto));
        let (mut c, _) = Client::connected(server.local_addr()).await;
        let first = pings_seen(&mut c, 2, None).await;
        assert_eq!(first, vec!["#1".to_owned(), String::new()]);
        c.send(pong).await;
        // One interval may already be queued; after it, only the socket's own generation.
        let later = pings_seen(&mut c, 8, Some(pong)).await;
        assert!(
            later[2..].iter().all(|p| p == ping),
            "pong {pong:?}: {later:?}"
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn pings_are_sent_while_other_traffic_flows() {
    let server = start(fast(ProtocolMode::V1));
    let (mut c, _) = Client::connected(server.local_addr()).await;
    c.auto_pong = false;
    let started = Instant::now();
    let mut pings = 0;
    let mut cid = 1000;
    while started.elapsed() < Duration::from_millis(600) {
        cid += 1;
        c.send(&json!({"event":"echo","data":cid,"cid":cid}).to_string())
            .await;
        loop {
            match c.next_raw().await {
                Seen::Text(t) if t == "#1" => pings += 1,
                Seen::Text(_) => break,
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(
        pings >= 3,
        "only {pings} pings in 600 ms of traffic at a 100 ms interval"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_answers_is_closed_4001_and_one_that_answers_is_kept() {
    let server = start(Settings {
        ping_interval_ms: 100,
        ping_timeout_ms: 500,
        ..settings()
    });
    let (mut silent, _) = Client::connected(server.local_addr()).await;
    // The silent socket's 500 ms began with its handshake, just before this.
    let started = Instant::now();
    let (mut answering, _) = Client::connected(server.local_addr()).await;
    silent.auto_pong = false;
    let answer = tokio::spawn(async move {
        // Answers every ping for four times the timeout.
        let until = Instant::now() + Duration::from_millis(2_000);
        while Instant::now() < until {
            if let Seen::Text(t) = answering.next_raw().await {
                if t == "#1" {
                    answering.send("#2").await;
                }
            } else {
                return false;
            }
        }
        answering.invoke("echo", json!("alive")).await["data"] == "alive"
    });
    assert_eq!(silent.closed().await.0, 4001);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400),
        "closed after only {elapsed:?}"
    );
    assert!(answer.await.unwrap(), "the answering client was dropped");
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_message_closes_1009_and_others_keep_working() {
    let server = start(Settings {
        max_message_bytes: 64 * 1024,
        ..settings()
    });
    let (mut big, _) = Client::connected(server.local_addr()).await;
    let (mut other, _) = Client::connected(server.local_addr()).await;
    let data = "y".repeat(100 * 1024);
    big.send(&json!({"event":"echo","data":data,"cid":5}).to_string())
        .await;
    assert_eq!(big.closed().await.0, 1009);
    assert_eq!(other.invoke("echo", json!(1)).await["data"], 1);
    server.shutdown().await;
}
