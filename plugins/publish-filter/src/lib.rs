//! `publish-filter`: publish-in middleware that blocks or rewrites client publishes by channel
//! (world `middleware-plugin`). The same plugin exists in Python, JavaScript and C
//! (`plugins/python`, `plugins/js`, `plugins/c`); `tests/guests.rs` holds all four to one test.
//!
//! | channel | verdict |
//! |---|---|
//! | `blocked/…` | `block`: `PublishBlockedError` "Publishing to CHANNEL is not allowed" |
//! | `rewrite/…` | `rewrite` to `{"rewritten":true,"data":DATA}` (DATA is the JSON as sent, `null` if none) |
//! | anything else | `allow` |

wit_bindgen::generate!({ path: "../../wit", world: "middleware-plugin" });

use exports::scgate::plugin::middleware::{Error, Guest, HttpRequest, Socket, Stage, Verdict};

/// Publishes on channels under this prefix are refused.
const BLOCKED_PREFIX: &str = "blocked/";
/// Publishes on channels under this prefix are wrapped before they reach subscribers.
const REWRITE_PREFIX: &str = "rewrite/";

struct PublishFilter;

impl Guest for PublishFilter {
    fn init(_config: String) -> Result<Vec<Stage>, String> {
        Ok(vec![Stage::PublishIn])
    }

    fn publish_in(_socket: Socket, channel: String, data: Option<String>) -> Verdict {
        if channel.starts_with(BLOCKED_PREFIX) {
            Verdict::Block(Error {
                name: "PublishBlockedError".to_string(),
                message: format!("Publishing to {channel} is not allowed"),
                extra: None,
            })
        } else if channel.starts_with(REWRITE_PREFIX) {
            // The data is JSON text already: wrap it without parsing it.
            let data = data.as_deref().unwrap_or("null");
            Verdict::Rewrite(format!(r#"{{"rewritten":true,"data":{data}}}"#))
        } else {
            Verdict::Allow
        }
    }

    // Registered for `publish-in` only: the gateway never calls the other stages.
    fn handshake_ws(_request: HttpRequest) -> Verdict {
        Verdict::Allow
    }
    fn handshake_sc(_socket: Socket, _status_code: Option<u16>) -> Verdict {
        Verdict::Allow
    }
    fn emit(_socket: Socket, _event: String, _data: Option<String>) -> Verdict {
        Verdict::Allow
    }
    fn subscribe(_socket: Socket, _channel: String, _data: Option<String>) -> Verdict {
        Verdict::Allow
    }
    fn publish_out(_socket: Socket, _channel: String, _data: Option<String>) -> Verdict {
        Verdict::Allow
    }
    fn authenticate(_socket: Socket, _claims: String) -> Verdict {
        Verdict::Allow
    }
}

export!(PublishFilter);
