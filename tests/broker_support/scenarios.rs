//! The scenarios every distributed broker must pass against its real engine: three nodes act
//! as one, the engine carries a channel only while a node has subscribers, order holds across
//! nodes, and the plugin KV is shared with an atomic `incr`.

use super::{node_settings, Engine};
use crate::common::{eventually, start, Client};
use scgate::ServerHandle;
use serde_json::{json, Value};
use std::time::Duration;

/// How long the engine may take to follow a subscription change (a local round trip).
const SETTLE: Duration = Duration::from_secs(5);

fn nodes(engine: &impl Engine, count: usize) -> Vec<ServerHandle> {
    (0..count)
        .map(|_| start(node_settings(&engine.url())))
        .collect()
}

pub async fn a_publish_on_any_node_reaches_every_subscriber_on_every_node_once<E: Engine>() {
    let engine = E::start();
    let nodes = nodes(&engine, 3);
    let mut clients = Vec::new();
    for node in &nodes {
        let (mut client, _) = Client::connected(node.local_addr()).await;
        client.subscribe("news").await;
        clients.push(client);
    }
    // A client publish on node 0, then a server-side (plugin-style) publish on node 2.
    let reply = clients[0]
        .invoke("#publish", json!({"channel":"news","data":"from-0"}))
        .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let data = serde_json::value::RawValue::from_string("\"from-2\"".into()).unwrap();
    nodes[2]
        .gateway()
        .publish("news", Some(&data))
        .await
        .unwrap();
    // Two publishers: each client gets both, once each (their relative order is not defined:
    // node 2 delivers its own publish locally while node 0's may still be on its way).
    for client in &mut clients {
        let mut got = vec![client.delivery().await, client.delivery().await];
        got.sort_by_key(|(_, data)| data.to_string());
        let news = |d: &str| ("news".to_owned(), json!(d));
        assert_eq!(got, [news("from-0"), news("from-2")]);
    }
    // A node-local echo proves nothing else is queued behind (no duplicate arrived late).
    for client in &mut clients {
        client
            .invoke("#publish", json!({"channel":"probe","data":1}))
            .await;
        assert_eq!(client.invoke("echo", json!("end")).await["data"], "end");
    }
}

pub async fn a_node_holds_a_channel_on_the_engine_only_while_it_has_local_subscribers<E: Engine>() {
    let engine = E::start();
    let nodes = nodes(&engine, 2);
    let (mut a, _) = Client::connected(nodes[0].local_addr()).await;
    let (mut b, _) = Client::connected(nodes[1].local_addr()).await;
    assert!(engine.engine_channels().is_empty());
    a.subscribe("room").await;
    // The subscribe reply comes after Redis confirmed it: no wait needed.
    assert_eq!(engine.engine_channels(), ["room"]);
    b.subscribe("room").await;
    let reply = a.invoke("#unsubscribe", json!("room")).await;
    assert!(reply.get("error").is_none(), "{reply}");
    // Node 1 still subscribes: the channel stays; a publish from node 0 reaches it.
    a.invoke("#publish", json!({"channel":"room","data":"still"}))
        .await;
    assert_eq!(b.delivery().await.1, "still");
    drop(b);
    assert!(
        eventually(SETTLE, || engine.engine_channels().is_empty()).await,
        "the last subscriber left, the engine still carries {:?}",
        engine.engine_channels()
    );
}

/// Reads `count` deliveries on `client` and returns their data.
async fn collect(mut client: Client, count: usize) -> Vec<Value> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        seen.push(client.delivery().await.1);
    }
    seen
}

pub async fn ten_thousand_messages_arrive_in_publisher_order_on_other_nodes<E: Engine>() {
    const MESSAGES: usize = 10_000;
    // Publishes in windows of this many, each closed by an acked one, so the test client never
    // outruns the subscribers' outbound queues (a slow-consumer policy matter, not the broker's).
    const WINDOW: usize = 500;
    let engine = E::start();
    let nodes = nodes(&engine, 3);
    let mut readers = Vec::new();
    for node in &nodes[1..] {
        let (mut client, _) = Client::connected(node.local_addr()).await;
        client.subscribe("seq").await;
        readers.push(tokio::spawn(collect(client, MESSAGES)));
    }
    let (mut publisher, _) = Client::connected(nodes[0].local_addr()).await;
    for i in 0..MESSAGES {
        let frame = json!({"event":"#publish","data":{"channel":"seq","data":i}});
        if (i + 1) % WINDOW == 0 {
            let cid = publisher.cid();
            let mut frame = frame;
            frame["cid"] = json!(cid);
            publisher.send_json(frame).await;
            let reply = publisher.reply_to(cid).await;
            assert!(reply.get("error").is_none(), "{reply}");
        } else {
            publisher.send_json(frame).await;
        }
    }
    for reader in readers {
        let seen = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("all messages in time")
            .unwrap();
        let expected: Vec<Value> = (0..MESSAGES).map(|i| json!(i)).collect();
        assert!(seen == expected, "out of order or missing");
    }
    let metrics = nodes[0].gateway().metrics().snapshot();
    assert!(
        metrics.contains(&("broker_publish_errors", 0)),
        "{metrics:?}"
    );
}

pub fn the_plugin_kv_is_shared_across_nodes_and_incr_is_atomic<E: Engine>() {
    use scgate::plugin::kv::Kv;
    const NODES: usize = 3;
    const THREADS: usize = 4;
    const INCRS: usize = 250;
    let engine = E::start();
    let stores: Vec<Kv> = (0..NODES)
        .map(|_| Kv::for_broker(&engine.url()).unwrap())
        .collect();
    // The store connects in the background; wait until every node's store answers.
    let deadline = std::time::Instant::now() + SETTLE;
    while stores.iter().any(|store| store.get("warm-up").is_err()) {
        let errors: Vec<_> = stores.iter().map(|s| s.get("warm-up")).collect();
        assert!(
            std::time::Instant::now() < deadline,
            "the KV never answered: {errors:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stores[0].set("greeting", "hi".into()).unwrap();
    assert_eq!(stores[2].get("greeting").unwrap().as_deref(), Some("hi"));
    assert!(stores[1].delete("greeting").unwrap());
    assert_eq!(stores[0].get("greeting").unwrap(), None);
    assert!(matches!(
        {
            stores[1].set("s", "x".into()).unwrap();
            stores[2].incr("s", 1)
        },
        Err(scgate::plugin::kv::KvError::NotAnInteger(_))
    ));
    // Every node's threads increment one counter at once: no update is lost, no value repeats.
    let mut values: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..NODES * THREADS)
            .map(|t| {
                let store = &stores[t % NODES];
                scope.spawn(move || {
                    (0..INCRS)
                        .map(|_| store.incr("hits", 1).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    values.sort_unstable();
    let total = (NODES * THREADS * INCRS) as i64;
    assert_eq!(values, (1..=total).collect::<Vec<_>>());
    assert_eq!(stores[1].get("hits").unwrap(), Some(total.to_string()));
}
