//! Writing outbound frames. Every frame is a JSON text frame (never binary: clients cannot
//! decode those). Frames are `Utf8Bytes`, so one encoded frame is shared by every socket
//! that sends it without copying or re-validating.

use super::ErrorObject;
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One encoded outbound text frame, cheap to clone (reference counted).
pub type Frame = Utf8Bytes;

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    // Writing a &str into a String cannot fail.
    if let Ok(quoted) = serde_json::to_string(s) {
        out.push_str(&quoted);
    }
}

/// `{"rid":N}` or `{"rid":N,"data":D}`.
pub fn response(rid: u64, data: Option<&str>) -> Frame {
    let mut out = String::with_capacity(24 + data.map_or(0, str::len));
    out.push_str("{\"rid\":");
    out.push_str(&rid.to_string());
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(data);
    }
    out.push('}');
    out.into()
}

/// `{"rid":N,"error":{…}}`, with v14's optional `data` beside the error.
pub fn error_response(rid: u64, error: &ErrorObject, data: Option<&str>) -> Frame {
    let mut out = String::with_capacity(96);
    out.push_str("{\"rid\":");
    out.push_str(&rid.to_string());
    out.push_str(",\"error\":");
    out.push_str(&error.to_value().to_string());
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(data);
    }
    out.push('}');
    out.into()
}

/// An event with no `cid`: `{"event":E}` or `{"event":E,"data":D}`.
pub fn event(name: &str, data: Option<&str>) -> Frame {
    let mut out = String::with_capacity(32 + name.len() + data.map_or(0, str::len));
    out.push_str("{\"event\":");
    push_json_str(&mut out, name);
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(data);
    }
    out.push('}');
    out.into()
}

/// The delivery of a channel message: `{"event":"#publish","data":{"channel":C,"data":D}}`.
/// Encoded once per message and shared by every subscriber.
pub fn publish(channel: &str, data: Option<&str>) -> Frame {
    let mut out = String::with_capacity(48 + channel.len() + data.map_or(0, str::len));
    out.push_str("{\"event\":\"#publish\",\"data\":{\"channel\":");
    push_json_str(&mut out, channel);
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(data);
    }
    out.push_str("}}");
    out.into()
}

/// `#kickOut` for one channel.
pub fn kick_out(channel: &str, message: &str) -> Frame {
    let data = serde_json::json!({ "message": message, "channel": channel }).to_string();
    event("#kickOut", Some(&data))
}

/// v1's `#disconnect` event, sent before the close frame of a server-initiated disconnect.
pub fn disconnect(code: u16, reason: &str) -> Frame {
    let data = if reason.is_empty() {
        serde_json::json!({ "code": code })
    } else {
        serde_json::json!({ "code": code, "data": reason })
    };
    event("#disconnect", Some(&data.to_string()))
}

/// The successful `#handshake` reply, with `authError` when the client's token was rejected.
pub fn handshake(
    rid: u64,
    id: &str,
    ping_timeout_ms: u64,
    authenticated: bool,
    auth_error: Option<&ErrorObject>,
) -> Frame {
    let mut data = serde_json::json!({
        "id": id,
        "pingTimeout": ping_timeout_ms,
        "isAuthenticated": authenticated,
    });
    if let Some(error) = auth_error {
        data["authError"] = error.to_value();
    }
    response(rid, Some(&data.to_string()))
}

/// Raw JSON for `data`, for callers holding a `serde_json::Value`.
pub fn raw(value: &serde_json::Value) -> Box<RawValue> {
    // A Value always serialises to valid JSON.
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| null())
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".into()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_exact() {
        assert_eq!(response(3, None).as_str(), r#"{"rid":3}"#);
        assert_eq!(
            response(3, Some("null")).as_str(),
            r#"{"rid":3,"data":null}"#
        );
        assert_eq!(
            publish("po\"ng", Some(r#"{"a":1}"#)).as_str(),
            r##"{"event":"#publish","data":{"channel":"po\"ng","data":{"a":1}}}"##
        );
        assert_eq!(
            event("#removeAuthToken", None).as_str(),
            r##"{"event":"#removeAuthToken"}"##
        );
        assert_eq!(
            disconnect(4321, "test drop").as_str(),
            r##"{"event":"#disconnect","data":{"code":4321,"data":"test drop"}}"##
        );
    }

    #[test]
    fn error_response_carries_the_error_object() {
        let err = ErrorObject::invalid_action("nope");
        let frame = error_response(9, &err, None);
        let v: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(v["rid"], 9);
        assert_eq!(v["error"]["name"], "InvalidActionError");
        assert_eq!(v["error"]["message"], "nope");
    }
}
