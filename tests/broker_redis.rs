//! The Redis broker against a real redis-server (one per test): the shared scenarios
//! ([`broker_support::scenarios`]), the KV across nodes, and start-up refusals.

mod broker_support;
mod common;

use broker_support::{node_settings, scenarios, RedisServer};

#[tokio::test]
async fn a_publish_on_any_node_reaches_every_subscriber_on_every_node_once() {
    scenarios::a_publish_on_any_node_reaches_every_subscriber_on_every_node_once::<RedisServer>()
        .await;
}

#[tokio::test]
async fn a_node_holds_a_channel_on_the_engine_only_while_it_has_local_subscribers() {
    scenarios::a_node_holds_a_channel_on_the_engine_only_while_it_has_local_subscribers::<
        RedisServer,
    >()
    .await;
}

#[tokio::test]
async fn ten_thousand_messages_arrive_in_publisher_order_on_other_nodes() {
    scenarios::ten_thousand_messages_arrive_in_publisher_order_on_other_nodes::<RedisServer>()
        .await;
}

#[test]
fn the_plugin_kv_is_shared_across_nodes_and_incr_is_atomic() {
    scenarios::the_plugin_kv_is_shared_across_nodes_and_incr_is_atomic::<RedisServer>();
}

#[test]
fn a_broker_this_build_cannot_serve_is_refused_at_start_up() {
    let kafka = scgate::config::Settings {
        broker: "kafka://127.0.0.1:9092".into(),
        ..common::settings()
    };
    let err = kafka.validate().unwrap_err().to_string();
    assert!(err.contains("a nats:// URL"), "{err}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = scgate::start(kafka, listener, common::test_hooks()).err();
    assert!(format!("{err:?}").contains("a nats:// URL"), "{err:?}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scgate"))
        .args(["serve", "--port", "0", "--broker", "kafka://127.0.0.1:9092"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broker"), "{stderr}");
}

/// A `--broker` URL on a port where nothing listens.
fn dead_url(scheme: &str) -> String {
    let port = broker_support::free_port();
    format!("{scheme}://127.0.0.1:{port}")
}

#[test]
fn an_unreachable_engine_fails_start_up_with_its_address() {
    for (scheme, name) in [("redis", "redis"), ("nats", "nats")] {
        let url = dead_url(scheme);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = scgate::start(node_settings(&url), listener, common::test_hooks()).err();
        let text = format!("{err:?}");
        assert!(
            text.contains(&format!("cannot reach {name} at {url}")),
            "{text}"
        );
    }
}
