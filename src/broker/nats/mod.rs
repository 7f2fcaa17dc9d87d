//! The NATS broker (`--broker nats://…`): the shared engine broker ([`super::engine`]) on one
//! core-NATS connection (async-nats reconnects and re-subscribes on its own). Subject
//! `sc.ch.c<base64url(NAME)>` carries the scgate channel `NAME` (subjects cannot hold every
//! channel name as is: no spaces, dots are separators, `*` and `>` are wildcards). The plugin KV
//! is a JetStream key-value bucket ([`kv`]), so nats-server needs `-js` for it; pub/sub does not.

pub mod kv;
mod publisher;
mod subscriber;

use super::engine::{self, EngineBroker, RECONNECT_INTERVAL, ROUND_TRIP_TIMEOUT};
use crate::metrics::Metrics;
use async_nats::{Client, ConnectOptions, Event};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Prefix of every subject scgate uses, so other users of the same NATS are not disturbed.
const SUBJECT_PREFIX: &str = "sc.ch.c";
/// How often the client pings the server: with async-nats's two unanswered pings, a stalled
/// server is dropped (and publishes refused) within a few seconds even when idle.
const PING_INTERVAL: Duration = Duration::from_secs(1);

/// The subject that carries `channel`.
fn subject(channel: &str) -> String {
    format!("{SUBJECT_PREFIX}{}", URL_SAFE_NO_PAD.encode(channel))
}

/// The channel a subject carries, if it is one of ours.
fn channel_of(subject: &str) -> Option<String> {
    let encoded = subject.strip_prefix(SUBJECT_PREFIX)?;
    String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()
}

/// Connection options shared by the broker and the KV: retry every [`RECONNECT_INTERVAL`]
/// forever, notice a stalled server quickly.
fn options() -> ConnectOptions {
    ConnectOptions::new()
        .connection_timeout(ROUND_TRIP_TIMEOUT)
        .ping_interval(PING_INTERVAL)
        .reconnect_delay_callback(|_| RECONNECT_INTERVAL)
        .max_reconnects(None)
}

/// Connects to NATS at `url`, within [`ROUND_TRIP_TIMEOUT`].
async fn connect(url: String, options: ConnectOptions) -> Result<Client, String> {
    match tokio::time::timeout(ROUND_TRIP_TIMEOUT, options.connect(url)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Connects to NATS at `url` (failing if it cannot be reached now) and starts the thread that
/// owns the connection; the thread stops when `shutdown` is cancelled.
pub fn start(
    url: &str,
    shards: usize,
    workers: usize,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<(Arc<EngineBroker>, JoinHandle<()>)> {
    let (broker, shared, queue) = engine::new("nats", shards, workers, metrics);
    let events = shared.clone();
    // A disconnect refuses publishes at once; the publisher task marks the engine back once a
    // flush succeeds again.
    let options = options().event_callback(move |event| {
        if let Event::Disconnected = event {
            events.set_connected(false);
        }
        std::future::ready(())
    });
    let first = connect(url.to_owned(), options);
    let thread = engine::spawn_thread("nats", first, move |client| async move {
        shared.set_max_payload(client.server_info().max_payload);
        shared.set_connected(true);
        shared.set_subscribed(true);
        let sub = subscriber::run(client.clone(), shared.clone(), shutdown.clone());
        let publ = publisher::run(client, shared, queue, shutdown);
        tokio::join!(sub, publ);
    })
    .map_err(|e| anyhow::anyhow!("cannot reach nats at {url}: {e}"))?;
    Ok((Arc::new(broker), thread))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_channel_name_maps_to_a_valid_subject_and_back() {
        for name in ["news", "a.b", "with space", "*", ">", "ünï", ""] {
            let subject = super::subject(name);
            assert!(!subject.contains([' ', '*', '>']), "{subject}");
            assert_eq!(super::channel_of(&subject).as_deref(), Some(name));
        }
    }
}
