//! [`Gateway`]: the handle server-side code uses to act on clients — publish on a channel
//! (`exchange.publish`), send an event to a socket, kick a socket out of a channel, disconnect it.
//! Cheap to clone and usable from any thread.

use crate::broker::{Broker, BrokerError};
use crate::metrics::Metrics;
use crate::protocol::encode;
use crate::socket_id;
use serde_json::value::RawValue;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A command for one socket, sent to the worker that owns it.
#[derive(Debug)]
pub(crate) enum Control {
    /// Queue an already-encoded frame (a transmit).
    Frame(encode::Frame),
    /// Remove the socket from `channel` and send it `#kickOut`.
    KickOut { channel: String, message: String },
    /// Close the socket with `code` and `reason`.
    Disconnect { code: u16, reason: String },
    /// Not for a socket (its key is ignored): answer with the worker's plugin status report
    /// (`Hooks::plugins_status`). The admin listener sends it and waits on the receiver; a
    /// worker gone at shutdown drops the sender, which the waiter sees as an error.
    PluginsStatus(tokio::sync::oneshot::Sender<Option<serde_json::Value>>),
}

/// Why a gateway command could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The socket id is not in the form this gateway issues. (A well-formed id of a socket that
    /// has closed is not an error: the command is dropped, as the socket could have closed a
    /// moment later anyway.)
    #[error("unknown socket id {0:?}")]
    UnknownSocket(String),
    /// The gateway is shutting down.
    #[error("the gateway is shutting down")]
    Closed,
    /// The broker failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// Server-side control of a running gateway.
#[derive(Clone)]
pub struct Gateway {
    broker: Arc<dyn Broker>,
    // One sender per worker, indexed by worker; each worker's dispatcher is the receiver.
    // Bounded, so a flood of commands waits instead of growing memory.
    controls: Arc<[mpsc::Sender<(u64, Control)>]>,
    metrics: Arc<Metrics>,
}

impl Gateway {
    pub(crate) fn new(
        broker: Arc<dyn Broker>,
        controls: Vec<mpsc::Sender<(u64, Control)>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Gateway {
            broker,
            controls: controls.into(),
            metrics,
        }
    }

    /// The process-wide counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Publishes raw JSON `data` on `channel` to every subscriber on every worker.
    pub async fn publish(
        &self,
        channel: &str,
        data: Option<&RawValue>,
    ) -> Result<(), GatewayError> {
        let frame = encode::publish(channel, data.map(RawValue::get));
        Metrics::inc(&self.metrics.publishes);
        Ok(self.broker.publish(channel.into(), frame).await?)
    }

    /// Sends `event` (no `cid`) to one socket.
    pub async fn transmit(
        &self,
        socket: &str,
        event: &str,
        data: Option<&RawValue>,
    ) -> Result<(), GatewayError> {
        let frame = encode::event(event, data.map(RawValue::get));
        self.send(socket, Control::Frame(frame)).await
    }

    /// Removes a socket from `channel` and tells it with `#kickOut`.
    pub async fn kick_out(
        &self,
        socket: &str,
        channel: &str,
        message: &str,
    ) -> Result<(), GatewayError> {
        let control = Control::KickOut {
            channel: channel.into(),
            message: message.into(),
        };
        self.send(socket, control).await
    }

    /// Closes a socket with `code` and `reason` (v1 sockets also get the `#disconnect` event).
    pub async fn disconnect(
        &self,
        socket: &str,
        code: u16,
        reason: &str,
    ) -> Result<(), GatewayError> {
        let control = Control::Disconnect {
            code,
            reason: reason.into(),
        };
        self.send(socket, control).await
    }

    /// The plugin status report, as worker 0's hooks give it; `None` for native hooks.
    pub(crate) async fn plugins_status(&self) -> Result<Option<serde_json::Value>, GatewayError> {
        let sender = self.controls.first().ok_or(GatewayError::Closed)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        sender
            .send((0, Control::PluginsStatus(tx)))
            .await
            .map_err(|_| GatewayError::Closed)?;
        rx.await.map_err(|_| GatewayError::Closed)
    }

    async fn send(&self, socket: &str, control: Control) -> Result<(), GatewayError> {
        let (worker, key) =
            socket_id::decode(socket).ok_or_else(|| GatewayError::UnknownSocket(socket.into()))?;
        let sender = self
            .controls
            .get(worker)
            .ok_or_else(|| GatewayError::UnknownSocket(socket.into()))?;
        sender
            .send((key, control))
            .await
            .map_err(|_| GatewayError::Closed)
    }
}
