//! `access-control`: middleware that allows, blocks, silences and rewrites what clients do
//! (world `middleware-plugin`; the rules follow `sc-protocol.md` section 12).
//!
//! It registers for every stage. The rules, with their config keys (the plugin's
//! `[plugins.NAME]` table; every key is optional, unknown keys are ignored):
//!
//! | stage | rule |
//! |---|---|
//! | `handshake-ws` | query has `rejectws=1` → `HandshakeWsRejectedError` (HTTP 401) |
//! | `handshake-sc` | query has `rejectsc=1` → `HandshakeRejectedError`, with `{"statusCode":N}` if it has `code=N` |
//! | `emit` | event in `blocked_events` → `EmitBlockedError` |
//! | `subscribe` | channel in `forbidden`, or a `protected_prefix` channel without the claims → `SubscribeBlockedError` |
//! | `publish-in` | channel in `blocked_publish`, or protected without the claims → `PublishBlockedError`; in `silent_publish` → silent block; data `{"rewrite":true,…}` → rewritten with `"rewritten":true` |
//! | `publish-out` | data `{"dropOut":true,…}` → the delivery is dropped |
//! | `authenticate` | `username` in `blocked_users` → `AuthenticateMiddlewareError`; in `bad_token_users` → the same plus `{"isBadToken":true}` |
//!
//! A protected channel is open to a socket whose auth token claims have `"role":"admin"` or a
//! `channels` array that contains the channel.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

wit_bindgen::generate!({ path: "../../wit", world: "middleware-plugin" });

use exports::scgate::plugin::middleware::{Error, Guest, HttpRequest, Socket, Stage, Verdict};

/// The plugin's settings, read once per instance by `init`.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct Config {
    /// Channels under this prefix need an admin token or one that lists the channel.
    protected_prefix: String,
    /// Channels nobody may subscribe to.
    forbidden: Vec<String>,
    /// Channels nobody may publish to; the client receives a `PublishBlockedError`.
    blocked_publish: Vec<String>,
    /// Channels whose publishes are dropped with a `SilentMiddlewareBlockedError`.
    silent_publish: Vec<String>,
    /// Events blocked before they reach their handler.
    blocked_events: Vec<String>,
    /// Usernames whose tokens are rejected.
    blocked_users: Vec<String>,
    /// Usernames whose tokens are rejected and also removed from the client (`isBadToken`).
    bad_token_users: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        let strings = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        Config {
            protected_prefix: "private/".to_string(),
            forbidden: strings(&["forbidden"]),
            blocked_publish: strings(&["blocked"]),
            silent_publish: strings(&["silentBlocked"]),
            blocked_events: strings(&["forbiddenEvent"]),
            blocked_users: strings(&["blocked"]),
            bad_token_users: strings(&["bad"]),
        }
    }
}

/// Set by `init`; the gateway calls no stage before it.
static CONFIG: OnceLock<Config> = OnceLock::new();

fn config() -> &'static Config {
    CONFIG.get_or_init(Config::default)
}

/// A `block` verdict with a SocketCluster error object.
fn block(name: &str, message: String, extra: Option<Value>) -> Verdict {
    Verdict::Block(Error {
        name: name.to_string(),
        message,
        extra: extra.map(|v| v.to_string()),
    })
}

/// The value of `key` in a query string (`a=1&b=2`), if present. Names and values are compared
/// as they are, without percent-decoding, which is enough for the plain tokens this plugin reads.
fn query_param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if pair == key => Some(""),
            _ => None,
        })
}

/// Parses optional JSON text into an object, if it is one.
fn json_object(text: Option<&str>) -> Option<Map<String, Value>> {
    match serde_json::from_str(text?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Whether `socket` may use `channel`: unprotected channels are open to everyone; protected
/// ones need an admin token or a token whose `channels` list names the channel.
fn may_use(socket: &Socket, channel: &str) -> bool {
    if !channel.starts_with(&config().protected_prefix) {
        return true;
    }
    let Some(claims) = json_object(socket.auth_token.as_deref()) else {
        return false;
    };
    let is_admin = claims.get("role").and_then(Value::as_str) == Some("admin");
    let listed = claims
        .get("channels")
        .and_then(Value::as_array)
        .is_some_and(|channels| channels.iter().any(|c| c.as_str() == Some(channel)));
    is_admin || listed
}

/// Whether `list` holds `name`.
fn listed(list: &[String], name: &str) -> bool {
    list.iter().any(|item| item == name)
}

struct AccessControl;

impl Guest for AccessControl {
    fn init(config: String) -> Result<Vec<Stage>, String> {
        let parsed: Config = serde_json::from_str(&config)
            .map_err(|e| format!("access-control: bad config: {e}"))?;
        CONFIG
            .set(parsed)
            .map_err(|_| "access-control: init called twice".to_string())?;
        Ok(vec![
            Stage::HandshakeWs,
            Stage::HandshakeSc,
            Stage::Emit,
            Stage::Subscribe,
            Stage::PublishIn,
            Stage::PublishOut,
            Stage::Authenticate,
        ])
    }

    fn handshake_ws(request: HttpRequest) -> Verdict {
        if query_param(&request.query, "rejectws") == Some("1") {
            return block(
                "HandshakeWsRejectedError",
                "WS handshake rejected".to_string(),
                None,
            );
        }
        Verdict::Allow
    }

    fn handshake_sc(socket: Socket, _status_code: Option<u16>) -> Verdict {
        if query_param(&socket.query, "rejectsc") != Some("1") {
            return Verdict::Allow;
        }
        // `code=N` picks the close code; the gateway reads it from `statusCode` (default 4008).
        let extra = query_param(&socket.query, "code")
            .and_then(|code| code.parse::<u16>().ok())
            .map(|code| serde_json::json!({ "statusCode": code }));
        block(
            "HandshakeRejectedError",
            "SC handshake rejected by test".to_string(),
            extra,
        )
    }

    fn emit(_socket: Socket, event: String, _data: Option<String>) -> Verdict {
        if listed(&config().blocked_events, &event) {
            return block(
                "EmitBlockedError",
                format!("Emit of {event} is blocked"),
                None,
            );
        }
        Verdict::Allow
    }

    fn subscribe(socket: Socket, channel: String, _data: Option<String>) -> Verdict {
        if listed(&config().forbidden, &channel) || !may_use(&socket, &channel) {
            return block(
                "SubscribeBlockedError",
                format!("You cannot subscribe to {channel}"),
                None,
            );
        }
        Verdict::Allow
    }

    fn publish_in(socket: Socket, channel: String, data: Option<String>) -> Verdict {
        let cfg = config();
        if listed(&cfg.blocked_publish, &channel) || !may_use(&socket, &channel) {
            return block(
                "PublishBlockedError",
                format!("Publishing to {channel} is not allowed"),
                None,
            );
        }
        if listed(&cfg.silent_publish, &channel) {
            return Verdict::BlockSilently;
        }
        match json_object(data.as_deref()) {
            Some(mut object) if object.get("rewrite") == Some(&Value::Bool(true)) => {
                object.insert("rewritten".to_string(), Value::Bool(true));
                Verdict::Rewrite(Value::Object(object).to_string())
            }
            _ => Verdict::Allow,
        }
    }

    fn publish_out(_socket: Socket, channel: String, data: Option<String>) -> Verdict {
        // The subscriber never sees this error: a blocked delivery is simply not sent.
        match json_object(data.as_deref()) {
            Some(object) if object.get("dropOut") == Some(&Value::Bool(true)) => block(
                "PublishOutBlockedError",
                format!("Delivery on {channel} dropped"),
                None,
            ),
            _ => Verdict::Allow,
        }
    }

    fn authenticate(_socket: Socket, claims: String) -> Verdict {
        let cfg = config();
        let claims = json_object(Some(&claims)).unwrap_or_default();
        let Some(username) = claims.get("username").and_then(Value::as_str) else {
            return Verdict::Allow;
        };
        let bad_token = listed(&cfg.bad_token_users, username);
        if bad_token || listed(&cfg.blocked_users, username) {
            let extra = bad_token.then(|| serde_json::json!({ "isBadToken": true }));
            return block(
                "AuthenticateMiddlewareError",
                format!("{username} is blocked"),
                extra,
            );
        }
        Verdict::Allow
    }
}

export!(AccessControl);

#[cfg(test)]
mod tests;
