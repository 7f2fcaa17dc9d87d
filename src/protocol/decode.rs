//! Decoding inbound frames the way sc-formatter does (`sc-protocol.md` section 3), borrowing
//! from the frame text so the hot path copies nothing.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// What one inbound frame (or one element of a batch) means.
#[derive(Debug)]
pub enum Inbound<'a> {
    /// `#2`: a protocol v1 pong.
    PongV1,
    /// The empty string: a protocol v2 pong.
    PongV2,
    /// A JSON array: a batch whose elements are handled in order.
    Batch(Vec<&'a RawValue>),
    /// An object with a string `event`.
    Event(EventPacket<'a>),
    /// An object with a `rid`: the answer to a server-sent invoke.
    Response,
    /// Anything else: invalid JSON, plain text, an object that is neither event nor response.
    Raw,
}

/// The `cid` of an event packet, as far as a reply is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cid {
    /// No `cid`: the sender wants no reply.
    Absent,
    /// A numeric `cid`: reply with `rid` set to it.
    Num(u64),
    /// A `cid` that is not a non-negative integer: v2 servers treat it as "no reply wanted".
    Invalid,
}

/// An event packet `{"event":…,"data":…,"cid":…}`.
#[derive(Debug)]
pub struct EventPacket<'a> {
    /// The event name (`#handshake`, `#publish`, or an application event).
    pub event: Cow<'a, str>,
    /// The raw JSON of `data`, `None` when the key is absent (`null` is kept as `null`).
    pub data: Option<&'a RawValue>,
    /// Whether and how to reply.
    pub cid: Cid,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    cid: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    rid: Option<&'a RawValue>,
}

/// Keeps a present key's raw JSON even when it is `null` (plain `Option` would turn it into `None`).
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Decodes one frame's text.
pub fn decode(text: &str) -> Inbound<'_> {
    match text {
        "" => return Inbound::PongV2,
        "#2" => return Inbound::PongV1,
        _ => {}
    }
    match text.trim_start().as_bytes().first() {
        Some(b'[') => match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => Inbound::Batch(items),
            Err(_) => Inbound::Raw,
        },
        Some(b'{') => decode_object(text),
        _ => Inbound::Raw,
    }
}

/// Decodes one element of a batch (the raw JSON of an array element).
pub fn decode_element(raw: &RawValue) -> Inbound<'_> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => decode_object(text),
        Some(b'"') => match serde_json::from_str::<&str>(text) {
            Ok("") => Inbound::PongV2,
            Ok("#2") => Inbound::PongV1,
            _ => Inbound::Raw,
        },
        _ => Inbound::Raw,
    }
}

/// The `data` of an encoded `#publish` delivery frame (raw JSON), if it has one.
pub fn publish_data(frame: &str) -> Option<Box<RawValue>> {
    #[derive(Deserialize)]
    struct Outer<'a> {
        #[serde(borrow)]
        data: Inner<'a>,
    }
    #[derive(Deserialize)]
    struct Inner<'a> {
        #[serde(borrow, default, deserialize_with = "present")]
        data: Option<&'a RawValue>,
    }
    let outer: Outer<'_> = serde_json::from_str(frame).ok()?;
    outer.data.data.map(ToOwned::to_owned)
}

fn decode_object(text: &str) -> Inbound<'_> {
    let Ok(wire) = serde_json::from_str::<Wire<'_>>(text) else {
        return Inbound::Raw;
    };
    if let Some(event) = wire.event {
        return Inbound::Event(EventPacket {
            event,
            data: wire.data,
            cid: parse_cid(wire.cid),
        });
    }
    match wire.rid {
        Some(rid) if rid.get() != "null" => Inbound::Response,
        _ => Inbound::Raw,
    }
}

fn parse_cid(raw: Option<&RawValue>) -> Cid {
    match raw {
        None => Cid::Absent,
        Some(raw) => raw.get().parse::<u64>().map_or(Cid::Invalid, Cid::Num),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> EventPacket<'_> {
        match decode(text) {
            Inbound::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn heartbeat_strings() {
        assert!(matches!(decode(""), Inbound::PongV2));
        assert!(matches!(decode("#2"), Inbound::PongV1));
        assert!(matches!(decode("#1"), Inbound::Raw));
    }

    #[test]
    fn events_keep_null_data_and_absent_data_apart() {
        let e = event(r#"{"event":"ping","data":null,"cid":7}"#);
        assert_eq!(e.event, "ping");
        assert_eq!(e.data.map(RawValue::get), Some("null"));
        assert_eq!(e.cid, Cid::Num(7));
        let e = event(r#"{"event":"ping"}"#);
        assert!(e.data.is_none());
        assert_eq!(e.cid, Cid::Absent);
    }

    #[test]
    fn non_numeric_cid_is_invalid() {
        assert_eq!(event(r#"{"event":"x","cid":"abc"}"#).cid, Cid::Invalid);
        assert_eq!(event(r#"{"event":"x","cid":-1}"#).cid, Cid::Invalid);
        assert_eq!(event(r#"{"event":"x","cid":1.5}"#).cid, Cid::Invalid);
    }

    #[test]
    fn escaped_event_names_decode() {
        assert_eq!(event(r#"{"event":"p\u0069ng"}"#).event, "ping");
    }

    #[test]
    fn raw_and_responses() {
        assert!(matches!(decode("hello raw"), Inbound::Raw));
        assert!(matches!(decode("{not json"), Inbound::Raw));
        assert!(matches!(decode(r#"{"foo":1}"#), Inbound::Raw));
        assert!(matches!(decode(r#"{"event":5}"#), Inbound::Raw));
        assert!(matches!(decode(r#"{"rid":1,"data":2}"#), Inbound::Response));
    }

    #[test]
    fn batches_decode_element_by_element() {
        let Inbound::Batch(items) = decode(r##" [{"event":"a"},"#2",""]"##) else {
            panic!("not a batch")
        };
        assert!(matches!(decode_element(items[0]), Inbound::Event(_)));
        assert!(matches!(decode_element(items[1]), Inbound::PongV1));
        assert!(matches!(decode_element(items[2]), Inbound::PongV2));
    }
}
