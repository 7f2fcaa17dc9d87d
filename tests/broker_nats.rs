//! The NATS broker against a real nats-server with JetStream (one per test): the shared
//! scenarios ([`broker_support::scenarios`]) and the KV (a JetStream bucket) across nodes.

mod broker_support;
mod common;

use broker_support::nats::NatsServer;
use broker_support::scenarios;

#[tokio::test]
async fn a_publish_on_any_node_reaches_every_subscriber_on_every_node_once() {
    scenarios::a_publish_on_any_node_reaches_every_subscriber_on_every_node_once::<NatsServer>()
        .await;
}

#[tokio::test]
async fn a_node_holds_a_channel_on_the_engine_only_while_it_has_local_subscribers() {
    scenarios::a_node_holds_a_channel_on_the_engine_only_while_it_has_local_subscribers::<NatsServer>().await;
}

#[tokio::test]
async fn ten_thousand_messages_arrive_in_publisher_order_on_other_nodes() {
    scenarios::ten_thousand_messages_arrive_in_publisher_order_on_other_nodes::<NatsServer>().await;
}

#[test]
fn the_plugin_kv_is_shared_across_nodes_and_incr_is_atomic() {
    scenarios::the_plugin_kv_is_shared_across_nodes_and_incr_is_atomic::<NatsServer>();
}

/// A message over the server's `max_payload` (1 MB by default) is refused before it is queued:
/// the publisher gets an error naming the limit, this node's subscribers still get it, and the
/// messages around it cross to the other node as usual (it cannot fail their batch).
#[tokio::test]
async fn a_message_over_max_payload_is_refused_alone_and_delivered_on_its_node() {
    use broker_support::{node_settings, Engine};
    use serde_json::json;
    let engine = NatsServer::start();
    let nodes: Vec<_> = (0..2)
        .map(|_| common::start(node_settings(&engine.url())))
        .collect();
    // The publisher reads only its replies; `here` and `there` read the deliveries.
    let (mut publisher, _) = common::Client::connected(nodes[0].local_addr()).await;
    let (mut here, _) = common::Client::connected(nodes[0].local_addr()).await;
    let (mut there, _) = common::Client::connected(nodes[1].local_addr()).await;
    here.subscribe("big").await;
    there.subscribe("big").await;

    let before = publisher
        .invoke("#publish", json!({"channel":"big","data":"before"}))
        .await;
    assert!(before.get("error").is_none(), "{before}");
    let large = "x".repeat(1_500_000);
    let reply = publisher
        .invoke("#publish", json!({"channel":"big","data":large}))
        .await;
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("max_payload"), "{reply}");
    let after = publisher
        .invoke("#publish", json!({"channel":"big","data":"after"}))
        .await;
    assert!(after.get("error").is_none(), "{after}");

    // This node: all three, in order.
    assert_eq!(here.delivery().await.1, "before");
    assert_eq!(
        here.delivery().await.1.as_str().map(str::len),
        Some(1_500_000)
    );
    assert_eq!(here.delivery().await.1, "after");
    // The other node: the two that fit, in order; nothing lost around the refused one.
    let got = [there.delivery().await.1, there.delivery().await.1];
    assert_eq!(got, [json!("before"), json!("after")]);
}
