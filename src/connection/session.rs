//! The protocol state of one socket, driven by the socket's task: the handshake, heartbeats and their
//! deadlines, server-initiated closes, and the commands other tasks send it.

use super::outbox::{Closing, Outbox};
use super::{actions, auth, events, middleware};
use crate::config::ProtocolMode;
use crate::gateway::Control;
use crate::hooks::{Actions, SocketInfo, Stage};
use crate::metrics::Metrics;
use crate::protocol::{close, decode, encode, Cid, ErrorObject, Generation, Inbound};
use crate::worker::WorkerCtx;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a closing socket waits for the peer's close frame (and for a peer that stopped
/// reading to take what is still queued) before the TCP connection is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(3);
/// Longest close-frame reason RFC 6455 allows (125-byte control payload minus the code).
const MAX_REASON_BYTES: usize = 123;

/// One socket's protocol state.
pub(crate) struct Session {
    pub ctx: Rc<WorkerCtx>,
    pub key: u64,
    pub info: SocketInfo,
    pub outbox: Rc<Outbox>,
    pub generation: Generation,
    pub handshaken: bool,
    pub subscriptions: HashSet<Arc<str>>,
    /// The code the socket closed (or is closing) with; 1006 ("abnormal") until one is known.
    pub close_code: u16,
    /// The `exp` claim of the socket's token, when it is authenticated and the claim is a number.
    pub auth_exp: Option<serde_json::Value>,
    last_seen: Instant,
    next_ping: Instant,
    handshake_deadline: Instant,
    linger_until: Option<Instant>,
}

impl Session {
    pub(super) fn new(ctx: Rc<WorkerCtx>, key: u64, info: SocketInfo, outbox: Rc<Outbox>) -> Self {
        let now = Instant::now();
        let settings = &ctx.settings;
        let generation = match settings.protocol {
            ProtocolMode::V1 => Generation::V1,
            ProtocolMode::V2 => Generation::V2,
            ProtocolMode::Auto => Generation::Unknown,
        };
        Session {
            next_ping: now + Duration::from_millis(settings.ping_interval_ms),
            handshake_deadline: now + Duration::from_millis(settings.handshake_timeout_ms),
            ctx,
            key,
            info,
            outbox,
            generation,
            handshaken: false,
            subscriptions: HashSet::new(),
            close_code: 1006,
            auth_exp: None,
            last_seen: now,
            linger_until: None,
        }
    }

    /// Whether a close has been started (by either side).
    pub(super) fn closing(&self) -> bool {
        self.linger_until.is_some() || self.outbox.is_closing()
    }

    /// Whether the socket's task must run [`Session::run_controls`]: commands are queued, or a
    /// close was requested elsewhere and its linger has not started.
    pub(super) fn needs_controls(&self) -> bool {
        self.outbox.has_controls() || (self.outbox.is_closing() && self.linger_until.is_none())
    }

    /// The next instant a timer must look at this socket.
    pub(super) fn next_deadline(&self) -> Instant {
        if let Some(linger) = self.linger_until {
            return linger;
        }
        let mut next = self.next_ping.min(self.last_seen + self.ping_timeout());
        if !self.handshaken {
            next = next.min(self.handshake_deadline);
        }
        next
    }

    fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ctx.settings.ping_timeout_ms)
    }

    /// Runs the timers that are due. Returns false once the socket should be dropped.
    pub(super) fn on_timer(&mut self) -> bool {
        let now = Instant::now();
        if let Some(linger) = self.linger_until {
            return now < linger;
        }
        if !self.handshaken && now >= self.handshake_deadline {
            self.close(
                close::HANDSHAKE_TIMEOUT,
                close::reason(close::HANDSHAKE_TIMEOUT),
            );
        } else if now >= self.last_seen + self.ping_timeout() {
            self.close(close::PONG_TIMEOUT, close::reason(close::PONG_TIMEOUT));
        } else if now >= self.next_ping {
            self.send_pings();
            let interval = Duration::from_millis(self.ctx.settings.ping_interval_ms);
            self.next_ping = (self.next_ping + interval).max(now);
        }
        true
    }

    fn send_pings(&self) {
        if self.generation != Generation::V2 {
            self.outbox
                .push_control_frame(crate::protocol::PING_V1.into());
        }
        if self.generation != Generation::V1 {
            self.outbox
                .push_control_frame(crate::protocol::PING_V2.into());
        }
    }

    /// Handles one inbound text message (a packet or a batch).
    pub(super) async fn on_text(&mut self, text: &str) {
        self.last_seen = Instant::now();
        Metrics::inc(&self.ctx.metrics.messages_in);
        if self.closing() {
            return;
        }
        match decode(text) {
            Inbound::Batch(items) => {
                for item in items {
                    if self.closing() {
                        break;
                    }
                    self.on_packet(decode::decode_element(item)).await;
                }
            }
            packet => self.on_packet(packet).await,
        }
    }

    /// Any inbound traffic counts as liveness, as in SocketCluster.
    pub(super) fn touch(&mut self) {
        self.last_seen = Instant::now();
    }

    async fn on_packet(&mut self, packet: Inbound<'_>) {
        if !self.handshaken {
            match packet {
                Inbound::Event(e) if e.event == "#handshake" => self.handshake(e.cid, e.data).await,
                _ => self.close(close::MESSAGE_BEFORE_HANDSHAKE, ""),
            }
            return;
        }
        // SocketCluster checks the token's expiry on every pong and event (except those that
        // replace the token anyway), deauthenticates, and still processes the message.
        match packet {
            Inbound::PongV1 | Inbound::PongV2 => {
                let v1 = matches!(packet, Inbound::PongV1);
                self.saw_pong(if v1 { Generation::V1 } else { Generation::V2 });
                auth::check_expiry(self);
            }
            Inbound::Event(event) => {
                let replaces_token = matches!(
                    event.event.as_ref(),
                    "#handshake" | "#authenticate" | "#removeAuthToken"
                );
                let expired = if replaces_token {
                    None
                } else {
                    auth::check_expiry(self)
                };
                events::handle(self, event, expired).await
            }
            Inbound::Batch(_) | Inbound::Response | Inbound::Raw => {}
        }
    }

    fn saw_pong(&mut self, generation: Generation) {
        if self.generation == Generation::Unknown {
            self.generation = generation;
        }
    }

    /// Answers `#handshake`; a handshake without a numeric `cid` or with non-object data is
    /// malformed and closes the socket with 4008.
    pub(super) async fn handshake(&mut self, cid: Cid, data: Option<&serde_json::value::RawValue>) {
        let data_ok = data.is_none_or(|d| d.get().starts_with('{') || d.get() == "null");
        let Cid::Num(rid) = cid else {
            return self.close(
                close::HANDSHAKE_REJECTED,
                close::reason(close::HANDSHAKE_REJECTED),
            );
        };
        if !data_ok {
            return self.close(
                close::HANDSHAKE_REJECTED,
                close::reason(close::HANDSHAKE_REJECTED),
            );
        }
        let mut auth_error = None;
        let mut close_after = None;
        if !self.handshaken {
            let mut actions = Actions::default();
            let verdict = self.ctx.hooks.handshake_sc(&self.info, &mut actions);
            let close_self = actions::apply_all(self, actions).await;
            if let Err(error) = middleware::outcome(verdict, Stage::HandshakeSc, self.generation) {
                return self.reject_handshake(rid, error);
            }
            if let Some((code, reason)) = close_self {
                return self.close(code, &reason);
            }
            // A socket the handshake middleware signed in keeps that token, as in SocketCluster.
            let token = auth::handshake_token(data).filter(|_| self.info.auth_token.is_none());
            if let Some(token) = token {
                let presented = auth::present(self, Some(&token)).await;
                if let Some((error, bad)) = presented.rejected {
                    if bad {
                        auth::deauthenticate(self);
                    }
                    auth_error = Some(error);
                }
                close_after = presented.close_self;
            }
        }
        let ping_timeout = self.ctx.settings.ping_timeout_ms;
        let authenticated = self.info.auth_token.is_some();
        let reply = encode::handshake(
            rid,
            &self.info.id,
            ping_timeout,
            authenticated,
            auth_error.as_ref(),
        );
        self.outbox.push_control_frame(reply);
        if !self.handshaken {
            self.handshaken = true;
            self.ctx.hooks.on_connect(&self.info);
        }
        if let Some((code, reason)) = close_after {
            self.close(code, &reason);
        }
    }

    /// Answers a handshake that middleware blocked, in the shape both client lines understand:
    /// v20 reads `statusCode` from the error, v14 `code` from `data`; then closes with that code.
    fn reject_handshake(&mut self, rid: u64, mut error: ErrorObject) {
        let code = error
            .extra
            .get("statusCode")
            .and_then(serde_json::Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(close::HANDSHAKE_REJECTED);
        error.extra.insert("statusCode".into(), code.into());
        let data = serde_json::json!({ "code": code }).to_string();
        self.outbox
            .push_control_frame(encode::error_response(rid, &error, Some(&data)));
        let reason = format!("{}: {}", error.name, error.message);
        self.close(code, &reason);
    }

    /// Sets (or clears) the socket's verified token claims, as every later hook call sees them.
    pub(crate) fn set_auth(&mut self, claims: Option<&serde_json::Map<String, serde_json::Value>>) {
        let (json, exp) = claims.map(auth::claims_state).unzip();
        self.info.auth_token = json.map(Arc::from);
        self.auth_exp = exp.flatten();
        self.outbox.set_info(self.info.clone());
    }

    /// Starts a server-initiated close: v1 sockets (and sockets not yet known to be v2) first
    /// get the `#disconnect` event; every socket gets the code and reason in the close frame.
    pub(crate) fn close(&mut self, code: u16, reason: &str) {
        if self.closing() {
            return;
        }
        let reason = truncate(reason, MAX_REASON_BYTES);
        self.close_code = code;
        if self.generation != Generation::V2 {
            self.outbox
                .push_control_frame(encode::disconnect(code, reason));
        }
        self.outbox.close(Closing::Send {
            code,
            reason: reason.to_owned(),
        });
        self.linger_until = Some(Instant::now() + CLOSE_LINGER);
    }

    /// The peer started the close (or vanished): the socket's task finishes the close handshake.
    pub(super) fn peer_closed(&mut self, code: Option<u16>) {
        if !self.closing() {
            self.close_code = code.unwrap_or(1005);
        }
        self.outbox.close(Closing::Finish);
    }

    /// Runs queued commands and notices a close requested elsewhere (e.g. the slow-consumer policy).
    pub(super) async fn run_controls(&mut self) {
        while let Some(control) = self.outbox.pop_control() {
            match control {
                Control::KickOut { channel, message } => self.kick_out(&channel, &message).await,
                Control::Disconnect { code, reason } => self.close(code, &reason),
                Control::Frame(frame) => {
                    self.outbox.push(frame);
                }
                // Answered by the worker's dispatcher; never queued for a socket.
                Control::PluginsStatus(_) => {}
            }
        }
        if self.outbox.is_closing() && self.linger_until.is_none() {
            self.linger_until = Some(Instant::now() + CLOSE_LINGER);
        }
    }

    /// Removes the socket from `channel` and tells it with `#kickOut`.
    pub(crate) async fn kick_out(&mut self, channel: &str, message: &str) {
        if self.leave(channel).await {
            self.outbox.push(encode::kick_out(channel, message));
        }
    }

    /// Drops the subscription to `channel`, unsubscribing the worker from the broker if it was
    /// the worker's last subscriber there. Returns whether the socket was subscribed.
    pub(crate) async fn leave(&mut self, channel: &str) -> bool {
        let Some(channel) = self.subscriptions.take(channel) else {
            return false;
        };
        let last = self.ctx.channels.borrow_mut().remove(&channel, self.key);
        if last {
            if let Err(err) = self.ctx.broker.unsubscribe(self.ctx.index, channel).await {
                tracing::warn!("broker unsubscribe failed: {err}");
            }
        }
        true
    }

    /// Queues a reply if the packet asked for one (under the slow-consumer policy).
    pub(crate) fn reply(&self, cid: Cid, data: Option<&str>) {
        if let Cid::Num(rid) = cid {
            self.outbox.push(encode::response(rid, data));
        }
    }

    /// Queues an error reply if the packet asked for one.
    pub(crate) fn reply_error(&self, cid: Cid, error: &ErrorObject) {
        if let Cid::Num(rid) = cid {
            self.outbox.push(encode::error_response(rid, error, None));
        }
    }

    /// Leaves every channel and tells the hooks the socket is gone.
    pub(super) async fn cleanup(&mut self) {
        let channels: Vec<Arc<str>> = self.subscriptions.iter().cloned().collect();
        for channel in channels {
            self.leave(&channel).await;
        }
        if self.handshaken {
            self.ctx.hooks.on_disconnect(&self.info, self.close_code);
        }
    }
}

/// The longest prefix of `s` within `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
