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
    /// The claims of the socket's auth token (a JSON object), if it is authenticated.
    pub auth_token: Option<Arc<str>>,
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
    /// Sign `claims` (a JSON object) into a token and send it with `#setAuthToken`, before the
    /// reply to the current event. Only for the calling socket.
    SetAuthToken {
        socket: Option<String>,
        claims: String,
    },
    /// Remove the socket's token (`#removeAuthToken`). Only for the calling socket.
    Deauthenticate { socket: Option<String> },
}

/// What middleware decides about one action (`sc-protocol.md` section 12).
#[derive(Debug)]
pub enum Verdict {
    /// Let the action through unchanged.
    Allow,
    /// Let it through with this data (raw JSON) instead.
    Rewrite(Box<RawValue>),
    /// Block it; the client receives this error (for a delivery: it is dropped).
    Block(ErrorObject),
    /// Block it with a `SilentMiddlewareBlockedError`.
    BlockSilently,
}

/// The middleware stages, by their SocketCluster 14 names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The HTTP upgrade (`handshakeWS`).
    HandshakeWs,
    /// The `#handshake` packet (`handshakeSC`).
    HandshakeSc,
    /// An application event (`emit`).
    Emit,
    /// A `#subscribe` (`subscribe`).
    Subscribe,
    /// A client `#publish` (`publishIn`).
    PublishIn,
    /// One delivery to one subscriber (`publishOut`).
    PublishOut,
    /// A valid token presented by the client (`authenticate`).
    Authenticate,
}

impl Stage {
    /// The SocketCluster 14 middleware type name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::HandshakeWs => "handshakeWS",
            Stage::HandshakeSc => "handshakeSC",
            Stage::Emit => "emit",
            Stage::Subscribe => "subscribe",
            Stage::PublishIn => "publishIn",
            Stage::PublishOut => "publishOut",
            Stage::Authenticate => "authenticate",
        }
    }
}

/// The HTTP upgrade request a `handshakeWS` middleware sees.
#[derive(Debug)]
pub struct UpgradeRequest<'a> {
    /// The request path.
    pub path: &'a str,
    /// The query string without the `?`.
    pub query: &'a str,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
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

    /// Signs `claims` into a token for the calling socket.
    pub fn set_auth_token(&mut self, claims: impl Into<String>) {
        self.0.push(Action::SetAuthToken {
            socket: None,
            claims: claims.into(),
        });
    }

    /// Removes the calling socket's token.
    pub fn deauthenticate(&mut self) {
        self.0.push(Action::Deauthenticate { socket: None });
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

    /// A socket that completed its handshake is gone, closed with `code`.
    fn on_disconnect(&self, _socket: &SocketInfo, _code: u16) {}

    /// Middleware: the HTTP upgrade. A block answers HTTP 401.
    fn handshake_ws(&self, _request: &UpgradeRequest<'_>, _actions: &mut Actions) -> Verdict {
        Verdict::Allow
    }

    /// Middleware: the `#handshake`. A block answers with the error and closes the socket with
    /// the error's `statusCode` (default 4008).
    fn handshake_sc(&self, _socket: &SocketInfo, _actions: &mut Actions) -> Verdict {
        Verdict::Allow
    }

    /// Middleware: an application event, before its handler.
    fn emit(
        &self,
        _socket: &SocketInfo,
        _event: &str,
        _data: Option<&RawValue>,
        _actions: &mut Actions,
    ) -> Verdict {
        Verdict::Allow
    }

    /// Middleware: a `#subscribe`.
    fn subscribe(
        &self,
        _socket: &SocketInfo,
        _channel: &str,
        _data: Option<&RawValue>,
        _actions: &mut Actions,
    ) -> Verdict {
        Verdict::Allow
    }

    /// Middleware: a client `#publish`, before the broker.
    fn publish_in(
        &self,
        _socket: &SocketInfo,
        _channel: &str,
        _data: Option<&RawValue>,
        _actions: &mut Actions,
    ) -> Verdict {
        Verdict::Allow
    }

    /// Whether [`publish_out`](Self::publish_out) must run; when false, deliveries skip it
    /// and stay a shared, pre-encoded frame.
    fn wants_publish_out(&self) -> bool {
        false
    }

    /// The status report of the code behind these hooks, served as JSON at `GET /plugins`:
    /// the plugin runtime lists its plugins; native hooks have none (404).
    fn plugins_status(&self) -> Option<serde_json::Value> {
        None
    }

    /// Middleware: one delivery to the subscriber `socket`.
    fn publish_out(
        &self,
        _socket: &SocketInfo,
        _channel: &str,
        _data: Option<&RawValue>,
        _actions: &mut Actions,
    ) -> Verdict {
        Verdict::Allow
    }

    /// Middleware: the claims of a token the gateway has just verified (from `#handshake` or
    /// `#authenticate`); `socket` already carries them. A block rejects the token: the client
    /// gets `isAuthenticated: false` with the error as `authError`, and also `#removeAuthToken`
    /// when the error's extra has `"isBadToken": true`. A rewrite is ignored.
    fn authenticate(&self, _socket: &SocketInfo, _claims: &str, _actions: &mut Actions) -> Verdict {
        Verdict::Allow
    }
}

/// Applies actions that have no calling socket (from publish-out or handshake-WS middleware)
/// through the gateway; actions that need one are logged and skipped.
pub async fn apply_detached(gateway: crate::Gateway, actions: Actions) {
    for action in actions.0 {
        if let Err(err) = apply_through_gateway(&gateway, action).await {
            tracing::warn!("hook action failed: {err}");
        }
    }
}

/// Carries out one action through the gateway: the one mapping of actions onto sockets other
/// than the caller's. Auth actions, which only apply to the calling socket, are logged and
/// skipped here.
pub async fn apply_through_gateway(
    gateway: &crate::Gateway,
    action: Action,
) -> Result<(), crate::gateway::GatewayError> {
    match action {
        Action::Publish { channel, data } => gateway.publish(&channel, Some(&data)).await,
        Action::Transmit {
            socket: Some(id),
            event,
            data,
        } => gateway.transmit(&id, &event, data.as_deref()).await,
        Action::KickOut {
            socket: Some(id),
            channel,
            message,
        } => gateway.kick_out(&id, &channel, &message).await,
        Action::Disconnect {
            socket: Some(id),
            code,
            reason,
        } => gateway.disconnect(&id, code, &reason).await,
        other => {
            tracing::warn!(action = ?other, "action needs the calling socket; skipped");
            Ok(())
        }
    }
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
