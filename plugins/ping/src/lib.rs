//! `ping`: the SocketCluster boilerplate handler as an scgate plugin (world `handler-plugin`).
//!
//! It answers the `ping` event: each call bumps a counter, publishes the new count on the
//! `pong` channel and acknowledges with the data it received, unchanged. The counter lives in
//! the instance's linear memory, so it counts per instance (an instance replaced after a trap,
//! or a second worker, starts again at 1).

use std::sync::atomic::{AtomicU64, Ordering};

wit_bindgen::generate!({ path: "../../wit", world: "handler-plugin" });

use exports::scgate::plugin::handler::{Error, Guest, Registration, Socket};
use scgate::plugin::host;

/// Pings handled by this instance.
static PINGS: AtomicU64 = AtomicU64::new(0);

struct Ping;

impl Guest for Ping {
    fn init(_config: String) -> Result<Registration, String> {
        Ok(Registration {
            events: vec!["ping".to_string()],
        })
    }

    fn on_event(
        _socket: Socket,
        event: String,
        data: Option<String>,
    ) -> Result<Option<String>, Error> {
        if event != "ping" {
            // The gateway only sends the events registered in `init`.
            return Err(Error {
                name: "UnknownEventError".to_string(),
                message: format!("ping does not handle {event}"),
                extra: None,
            });
        }
        let count = PINGS.fetch_add(1, Ordering::Relaxed) + 1;
        // A failed publish should not fail the ping itself: log it and acknowledge anyway.
        if let Err(e) = host::publish("pong", &count.to_string()) {
            host::log(
                host::Level::Warn,
                &format!("publish on pong failed: {}: {}", e.name, e.message),
            );
        }
        Ok(data)
    }
}

export!(Ping);
