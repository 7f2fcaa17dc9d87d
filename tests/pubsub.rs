//! Channels against a real gateway: subscribe/unsubscribe/publish and their errors, limits,
//! ordering, delivery across workers, server-side control, and the slow-consumer policies.

mod common;

use common::{eventually, settings, start, with_protocol, Client};
use scgate::config::{ProtocolMode, Settings, SlowConsumerPolicy};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

fn worker_of(handshake: &Value) -> usize {
    scgate::socket_id::decode(handshake["id"].as_str().unwrap())
        .unwrap()
        .0
}

#[tokio::test]
async fn a_publish_reaches_every_subscriber_including_the_publisher_until_they_unsubscribe() {
    let server = start(settings());
    let (mut a, _) = Client::connected(server.local_addr()).await;
    let (mut b, _) = Client::connected(server.local_addr()).await;
    a.subscribe("news").await;
    b.subscribe("news").await;
    let reply = a
        .invoke("#publish", json!({"channel":"news","data":{"hello":1}}))
        .await;
    assert_eq!(reply, json!({"rid":reply["rid"]}));
    assert_eq!(a.delivery().await, ("news".into(), json!({"hello":1})));
    assert_eq!(b.delivery().await, ("news".into(), json!({"hello":1})));
    // A publish without cid is delivered too, and gets no reply.
    a.send(r##"{"event":"#publish","data":{"channel":"news","data":"no-ack"}}"##)
        .await;
    assert_eq!(b.delivery().await.1, "no-ack");
    b.send(r##"{"event":"#unsubscribe","data":"news"}"##).await;
    a.invoke("#publish", json!({"channel":"news","data":"after"}))
        .await;
    assert_eq!(b.invoke("echo", json!("sync")).await["data"], "sync");
    a.invoke("#publish", json!({"channel":"other","data":"x"}))
        .await;
    // b saw nothing on `news` after unsubscribing: its next delivery would be from a resubscribe.
    b.subscribe("news").await;
    a.invoke("#publish", json!({"channel":"news","data":"again"}))
        .await;
    assert_eq!(b.delivery().await.1, "again");
    server.shutdown().await;
}

#[tokio::test]
async fn subscribe_accepts_the_v14_string_form_waitforauth_and_data_and_is_idempotent() {
    let server = start(settings());
    let (mut c, _) = Client::connected(server.local_addr()).await;
    assert_eq!(
        c.invoke("#subscribe", json!("plain")).await.get("error"),
        None
    );
    let reply = c
        .invoke(
            "#subscribe",
            json!({"channel":"private","waitForAuth":true,"data":{"why":"test"}}),
        )
        .await;
    assert_eq!(reply.get("error"), None);
    assert_eq!(
        c.invoke("#subscribe", json!({"channel":"plain"}))
            .await
            .get("error"),
        None
    );
    c.invoke("#publish", json!({"channel":"plain","data":1}))
        .await;
    assert_eq!(c.delivery().await, ("plain".into(), json!(1)));
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_channel_operations_get_the_socketcluster_errors() {
    let server = start(Settings {
        max_channel_name_bytes: 16,
        max_channels_per_socket: 2,
        ..settings()
    });
    let (mut c, hs) = Client::connected(server.local_addr()).await;
    let id = hs["id"].as_str().unwrap();
    let err = |v: Value| v["error"].clone();
    let e = err(c.invoke("#subscribe", json!({"channel":123})).await);
    assert_eq!(e["name"], "InvalidActionError");
    assert_eq!(e["message"], "Subscribe channel name was malformatted");
    let e = err(c
        .invoke("#subscribe", json!({"channel":"x".repeat(17)}))
        .await);
    assert_eq!(e["name"], "InvalidActionError");
    c.subscribe("a").await;
    c.subscribe("b").await;
    let e = err(c.invoke("#subscribe", json!({"channel":"c"})).await);
    assert_eq!(
        e["message"],
        format!("Socket {id} tried to exceed the channel subscription limit of 2")
    );
    let e = err(c.invoke("#unsubscribe", json!("zzz")).await);
    assert_eq!(e["name"], "BrokerError");
    assert_eq!(
        e["message"],
        format!("Socket {id} tried to unsubscribe from a channel which it is not subscribed to")
    );
    assert_eq!(
        c.invoke("#unsubscribe", json!("a")).await.get("error"),
        None
    );
    let e = err(c.invoke("#publish", json!({"channel":5,"data":1})).await);
    assert_eq!(e["message"], "Publish channel name was malformatted");
    let e = err(c
        .invoke("#publish", json!({"channel":"y".repeat(17),"data":1}))
        .await);
    assert_eq!(e["name"], "InvalidActionError");
    assert_eq!(c.invoke("echo", json!("alive")).await["data"], "alive");
    server.shutdown().await;
}

#[tokio::test]
async fn client_publish_can_be_disabled() {
    let server = start(Settings {
        allow_client_publish: false,
        ..settings()
    });
    let (mut c, _) = Client::connected(server.local_addr()).await;
    let reply = c.invoke("#publish", json!({"channel":"x","data":1})).await;
    assert_eq!(reply["error"]["name"], "InvalidActionError");
    assert_eq!(
        reply["error"]["message"],
        "Client publish feature is disabled"
    );
    server.shutdown().await;
}

/// Two clients on different workers (connections are handed out round robin).
async fn on_two_workers(server: &scgate::ServerHandle) -> (Client, Client) {
    let (a, ha) = Client::connected(server.local_addr()).await;
    let (b, hb) = Client::connected(server.local_addr()).await;
    assert_ne!(
        worker_of(&ha),
        worker_of(&hb),
        "expected the two sockets on different workers"
    );
    (a, b)
}

#[tokio::test]
async fn publishes_cross_workers_and_server_publishes_reach_everyone() {
    let server = start(settings());
    let (mut a, mut b) = on_two_workers(&server).await;
    b.subscribe("x").await;
    a.invoke("#publish", json!({"channel":"x","data":"from a"}))
        .await;
    assert_eq!(b.delivery().await.1, "from a");
    a.subscribe("x").await;
    let data = serde_json::value::to_raw_value(&json!({"srv":true})).unwrap();
    server.gateway().publish("x", Some(&data)).await.unwrap();
    assert_eq!(a.delivery().await.1, json!({"srv":true}));
    assert_eq!(b.delivery().await.1, json!({"srv":true}));
    // A plugin-style publish from inside a handler.
    a.invoke("publish", json!({"channel":"x","data":"hook"}))
        .await;
    assert_eq!(b.delivery().await.1, "hook");
    server.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_messages_from_one_publisher_arrive_in_order_on_every_worker() {
    const N: u64 = 10_000;
    let server = start(Settings {
        outbound_queue_frames: 2 * N as usize,
        ..settings()
    });
    let (mut local, mut remote) = on_two_workers(&server).await;
    local.subscribe("seq").await;
    remote.subscribe("seq").await;
    let (mut publisher, _) = Client::connected(server.local_addr()).await;
    let reader = |mut c: Client| {
        tokio::spawn(async move {
            for i in 0..N {
                let (_, data) = c.delivery().await;
                assert_eq!(data, json!(i), "out of order");
            }
        })
    };
    let (r1, r2) = (reader(local), reader(remote));
    for i in 0..N {
        publisher
            .send(&format!(
                r##"{{"event":"#publish","data":{{"channel":"seq","data":{i}}}}}"##
            ))
            .await;
    }
    r1.await.unwrap();
    r2.await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn kick_out_removes_the_subscription_and_tells_the_client() {
    let server = start(settings());
    let (mut c, hs) = Client::connected(server.local_addr()).await;
    c.subscribe("room").await;
    let id = hs["id"].as_str().unwrap();
    server
        .gateway()
        .kick_out(id, "room", "You were kicked")
        .await
        .unwrap();
    let v = c.next_json().await;
    assert_eq!(
        v,
        json!({"event":"#kickOut","data":{"message":"You were kicked","channel":"room"}})
    );
    let data = serde_json::value::to_raw_value(&json!("after")).unwrap();
    server.gateway().publish("room", Some(&data)).await.unwrap();
    // The next frame after the kick-out is the echo: the publish to `room` did not arrive.
    c.send(r#"{"event":"echo","data":"sync","cid":99}"#).await;
    assert_eq!(c.next_json().await, json!({"rid":99,"data":"sync"}));
    server.shutdown().await;
}

#[tokio::test]
async fn server_disconnects_carry_code_and_reason_with_the_v1_event_only_for_v1() {
    for (mode, expect_event) in [
        (ProtocolMode::V1, true),
        (ProtocolMode::V2, false),
        (ProtocolMode::Auto, true),
    ] {
        let server = start(with_protocol(mode));
        let (mut c, hs) = Client::connected(server.local_addr()).await;
        server
            .gateway()
            .disconnect(hs["id"].as_str().unwrap(), 4321, "test drop")
            .await
            .unwrap();
        if expect_event {
            assert_eq!(
                c.next_json().await,
                json!({"event":"#disconnect","data":{"code":4321,"data":"test drop"}})
            );
        }
        assert_eq!(c.closed().await, (4321, "test drop".into()), "{mode:?}");
        server.shutdown().await;
    }
}

#[tokio::test]
async fn transmit_sends_an_event_without_cid_and_unknown_ids_are_refused() {
    let server = start(settings());
    let (mut c, hs) = Client::connected(server.local_addr()).await;
    let data = serde_json::value::to_raw_value(&json!({"hello":"world"})).unwrap();
    server
        .gateway()
        .transmit(hs["id"].as_str().unwrap(), "serverNotice", Some(&data))
        .await
        .unwrap();
    assert_eq!(
        c.next_json().await,
        json!({"event":"serverNotice","data":{"hello":"world"}})
    );
    assert!(server.gateway().transmit("nope", "x", None).await.is_err());
    server.shutdown().await;
}

/// A subscriber that never reads, one that reads in lockstep with the publisher (never more
/// than `BURST` frames behind, below the queue bound), and a publisher of large messages.
async fn flood(policy: SlowConsumerPolicy) -> (scgate::ServerHandle, Vec<Client>) {
    const COUNT: usize = 600;
    const BURST: usize = 4;
    let server = start(Settings {
        outbound_queue_frames: 8,
        slow_consumer: policy,
        workers: 1,
        // The stuck client answers no pings: keep the pong timeout out of this test.
        ping_interval_ms: 20_000,
        ping_timeout_ms: 60_000,
        ..settings()
    });
    let (mut stuck, _) = Client::connected(server.local_addr()).await;
    stuck.subscribe("firehose").await;
    let (mut fast, _) = Client::connected(server.local_addr()).await;
    fast.subscribe("firehose").await;
    let (mut publisher, _) = Client::connected(server.local_addr()).await;
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        for _ in 0..COUNT {
            fast.delivery().await;
            counter.fetch_add(1, Relaxed);
        }
        let alive = fast.invoke("echo", json!("alive")).await["data"] == "alive";
        (alive, fast)
    });
    let frame =
        json!({"event":"#publish","data":{"channel":"firehose","data":"z".repeat(64 * 1024)}})
            .to_string();
    for sent in (BURST..=COUNT).step_by(BURST) {
        for _ in 0..BURST {
            publisher.send(&frame).await;
        }
        let caught_up =
            eventually(Duration::from_secs(10), || received.load(Relaxed) >= sent).await;
        assert!(
            caught_up,
            "the fast subscriber stopped at {} of {sent}",
            received.load(Relaxed)
        );
    }
    let done = tokio::time::timeout(Duration::from_secs(10), reader).await;
    let (alive, fast) = done.expect("reader timed out").unwrap();
    assert!(alive, "the fast subscriber was cut off");
    // The clients stay open (the stuck one never read) until the caller has checked.
    (server, vec![stuck, fast, publisher])
}

#[tokio::test]
async fn a_reader_that_never_reads_is_disconnected_while_others_keep_receiving() {
    let (server, _clients) = flood(SlowConsumerPolicy::Disconnect).await;
    let metrics = server.gateway().metrics();
    assert!(
        eventually(Duration::from_secs(10), || metrics
            .slow_consumer_disconnects
            .load(Relaxed)
            == 1)
        .await
    );
    // Cut off within the close linger: the stuck socket no longer counts as open.
    assert!(
        eventually(Duration::from_secs(10), || metrics
            .sockets_open
            .load(Relaxed)
            == 2)
        .await
    );
    server.shutdown().await;
}

#[tokio::test]
async fn drop_newest_keeps_a_slow_reader_connected_and_counts_the_drops() {
    let (server, _clients) = flood(SlowConsumerPolicy::DropNewest).await;
    let metrics = server.gateway().metrics();
    assert!(metrics.slow_consumer_drops.load(Relaxed) > 0);
    assert_eq!(metrics.slow_consumer_disconnects.load(Relaxed), 0);
    assert_eq!(metrics.sockets_open.load(Relaxed), 3);
    server.shutdown().await;
}
