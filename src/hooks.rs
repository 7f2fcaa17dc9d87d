//! The seam between the gateway core and business logic: what a worker asks its application code
//! (native Rust when embedding) and the actions that code may take.
//!
//! Hooks run to completion inside their worker, like a handler in a SocketCluster worker: they
//! are synchronous and the gateway applies the [`Actions`] they collect afterwards, in order,
//! before the reply to the event that triggered them is written.

use crate::protocol::ErrorObject;
use serde_json::value::RawValue;
use std::rc::Rc;
use std::sync::Arc;

/// What application code sees of a socket.
#[derive(Clone, Debug)]
pub struct SocketInfo {
    /// The socket id sent to the client in the handshake reply.
    pub id: Arc<str>,
    /// The query string of the upgrade request (without the `?`).
    pub query: Arc<str>,
    /// Index of the worker that owns the socket.
    pub worker: usize,
}

/// The result of handling one event.
#[derive(Debug)]
pub enum Outcome {
    /// No handler: nothing is sent back (the client times out), as in SocketCluster.
    Unhandled,
    /// Acknowledge, with the raw JSON of the reply data or none.
    Ack(Option<Box<RawValue>>),
    /// Fail with a SocketCluster error object.
    Fail(ErrorObject),
}

/// Something application code asks the gateway to do.
#[derive(Debug)]
pub enum Action {
    /// `exchange.publish`: publish raw JSON `data` on `channel` to every subscriber.
    Publish {
        channel: String,
        data: Box<RawValue>,
    },
    /// Send an event without `cid` to a socket (`None`: the calling socket).
    Transmit {
        socket: Option<String>,
        event: String,
        data: Option<Box<RawValue>>,
    },
    /// Remove a socket from a channel and send it `#kickOut`.
    KickOut {
        socket: Option<String>,
        channel: String,
        message: String,
    },
    /// Close a socket with a code and reason (after the current reply, for the calling socket).
    Disconnect {
        socket: Option<String>,
        code: u16,
        reason: String,
    },
}

/// The actions collected during one hook call, applied by the gateway in order.
#[derive(Debug, Default)]
pub struct Actions(pub Vec<Action>);

impl Actions {
    /// Publishes `data` (raw JSON) on `channel`.
    pub fn publish(&mut self, channel: impl Into<String>, data: Box<RawValue>) {
        self.0.push(Action::Publish {
            channel: channel.into(),
            data,
        });
    }

    /// Sends `event` to a socket (`None`: the calling socket).
    pub fn transmit(
        &mut self,
        socket: Option<String>,
        event: impl Into<String>,
        data: Option<Box<RawValue>>,
    ) {
        self.0.push(Action::Transmit {
            socket,
            event: event.into(),
            data,
        });
    }

    /// Kicks a socket (`None`: the calling socket) out of `channel`.
    pub fn kick_out(
        &mut self,
        socket: Option<String>,
        channel: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.0.push(Action::KickOut {
            socket,
            channel: channel.into(),
            message: message.into(),
        });
    }

    /// Disconnects a socket (`None`: the calling socket) with `code` and `reason`.
    pub fn disconnect(&mut self, socket: Option<String>, code: u16, reason: impl Into<String>) {
        self.0.push(Action::Disconnect {
            socket,
            code,
            reason: reason.into(),
        });
    }
}

/// Application logic, one instance per worker (state lives per worker, as in SocketCluster).
pub trait Hooks: 'static {
    /// Handles an application event (any event whose name does not start with `#`).
    fn on_event(
        &self,
        socket: &SocketInfo,
        event: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Outcome;

    /// A socket completed its handshake.
    fn on_connect(&self, _socket: &SocketInfo) {}

    /// A socket that completed its handshake is gone.
    fn on_disconnect(&self, _socket: &SocketInfo) {}
}

/// Builds each worker's hooks on that worker's thread (the argument is the worker index).
pub type HooksFactory = Arc<dyn Fn(usize) -> Rc<dyn Hooks> + Send + Sync>;

/// No application logic: every event is unhandled.
pub struct NoHooks;

impl Hooks for NoHooks {
    fn on_event(&self, _: &SocketInfo, _: &str, _: Option<&RawValue>, _: &mut Actions) -> Outcome {
        Outcome::Unhandled
    }
}

/// A factory for [`NoHooks`].
pub fn no_hooks() -> HooksFactory {
    Arc::new(|_| Rc::new(NoHooks))
}
