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
