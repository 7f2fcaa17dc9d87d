//! The targets: each reads the same bytes the way scgate does and the way a trusted reference
//! does, and says where they disagree.

use crate::decode::{self, Cid, Inbound};
use crate::frame::{self, HeaderError, Opcode};
use serde_json::value::RawValue;
use serde_json::Value;
use std::io::Cursor;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// A named target.
pub struct Target {
    pub name: &'static str,
    /// `Err(why)` when scgate and the reference disagree.
    pub run: fn(&[u8]) -> Result<(), String>,
    /// A coarse description of what the input made scgate do: inputs that differ here took
    /// different paths through the parser (the driver keeps one of each).
    pub outcome: fn(&[u8]) -> String,
}

/// Every target, by the name the driver and the corpus folders use.
pub const TARGETS: &[Target] = &[
    Target {
        name: "frame",
        run: frame_header,
        outcome: |input| match frame::parse_header(input) {
            Ok(None) => format!("needs more after {} bytes", input.len().min(14)),
            Ok(Some(h)) => {
                let whole = input.len() as u64 >= h.header_len as u64 + h.payload_len;
                let (op, fin, header) = (h.opcode, h.fin, h.header_len);
                format!("{op:?} fin={fin} header={header} whole={whole}")
            }
            Err(e) => format!("{e:?}"),
        },
    },
    Target {
        name: "close",
        run: close_payload,
        outcome: |input| format!("{:?}", frame::close_code(input).map(|c| c.map(|c| c / 100))),
    },
    Target {
        name: "packet",
        run: packet,
        outcome: |input| match std::str::from_utf8(input) {
            Ok(text) => match decode::decode(text) {
                Inbound::Batch(items) => {
                    let first = items.first().map(|i| kind(&decode::decode_element(i)));
                    format!("batch of {} starting {first:?}", items.len().min(3))
                }
                other => kind(&other),
            },
            Err(_) => "not utf-8".into(),
        },
    },
];

/// The kind of a decoded packet, and for an event the shape of its fields.
fn kind(packet: &Inbound<'_>) -> String {
    match packet {
        Inbound::Event(e) => {
            let data = e
                .data
                .and_then(|d| d.get().bytes().next())
                .map(|b| match b {
                    b'{' => "object",
                    b'[' => "array",
                    b'"' => "string",
                    b'n' => "null",
                    b't' | b'f' => "bool",
                    _ => "number",
                });
            let cid = match e.cid {
                Cid::Absent => "none",
                Cid::Num(_) => "num",
                Cid::Invalid => "invalid",
            };
            let reserved = e.event.starts_with('#');
            format!("event reserved={reserved} data={data:?} cid={cid}")
        }
        other => format!("{other:?}"),
    }
}

/// What RFC 6455 forbids a client's frame header, given tungstenite's reading of it: tungstenite
/// parses reserved bits, unmasked frames and bad control frames and refuses them a layer up,
/// scgate refuses them in the parser.
fn forbidden(h: &FrameHeader, len: u64) -> bool {
    let control = matches!(h.opcode, OpCode::Control(_));
    h.rsv1
        || h.rsv2
        || h.rsv3
        || h.mask.is_none()
        || (control && (!h.is_final || len > 125))
        || len >> 63 != 0
}

/// Whether the first two bytes alone already break a rule scgate checks before reading the
/// rest of the header (so it may refuse bytes tungstenite still waits on).
fn forbidden_early(data: &[u8], err: &HeaderError) -> bool {
    let (Some(&b0), Some(&b1)) = (data.first(), data.get(1)) else {
        return false;
    };
    let opcode = b0 & 0x0F;
    let control = opcode >= 8;
    let len = b1 & 0x7F;
    match err {
        HeaderError::ReservedBits => b0 & 0x70 != 0,
        HeaderError::UnknownOpcode(op) => *op == opcode && matches!(opcode, 3..=7 | 11..=15),
        HeaderError::Unmasked => b1 & 0x80 == 0,
        HeaderError::BadControl => control && (b0 & 0x80 == 0 || len > 125),
        HeaderError::BadLength => len == 127 && data.get(2).is_some_and(|b| b & 0x80 != 0),
    }
}

fn same_opcode(ours: Opcode, theirs: OpCode) -> bool {
    matches!(
        (ours, theirs),
        (Opcode::Continuation, OpCode::Data(Data::Continue))
            | (Opcode::Text, OpCode::Data(Data::Text))
            | (Opcode::Binary, OpCode::Data(Data::Binary))
            | (Opcode::Close, OpCode::Control(Control::Close))
            | (Opcode::Ping, OpCode::Control(Control::Ping))
            | (Opcode::Pong, OpCode::Control(Control::Pong))
    )
}

/// The frame parser against tungstenite's `FrameHeader::parse`, then unmasking against a
/// byte-by-byte XOR.
pub fn frame_header(data: &[u8]) -> Result<(), String> {
    let ours = frame::parse_header(data);
    let mut cursor = Cursor::new(data);
    let theirs = FrameHeader::parse(&mut cursor).map_err(|e| e.to_string());
    match (ours, theirs) {
        (Ok(None), Ok(None)) => Ok(()),
        (Ok(Some(h)), Ok(Some((t, len)))) => {
            if forbidden(&t, len) {
                return Err(format!("accepted a forbidden header {t:?} (length {len})"));
            }
            let same = h.fin == t.is_final
                && same_opcode(h.opcode, t.opcode)
                && Some(h.mask) == t.mask
                && h.payload_len == len
                && h.header_len as u64 == cursor.position();
            if !same {
                return Err(format!(
                    "read {h:?}; tungstenite read {t:?}, length {len}, header {} bytes",
                    cursor.position()
                ));
            }
            unmasking(data, h)
        }
        (Err(e), Ok(Some((t, len)))) if forbidden(&t, len) => {
            let _ = e;
            Ok(())
        }
        (Err(e), Ok(None)) if forbidden_early(data, &e) => Ok(()),
        (Err(HeaderError::UnknownOpcode(_) | HeaderError::ReservedBits), Err(_)) => Ok(()),
        (Err(e), Err(_)) if forbidden_early(data, &e) => Ok(()),
        (ours, theirs) => Err(format!("read {ours:?}; tungstenite read {theirs:?}")),
    }
}

/// The payload, when all of it is there, unmasks to what a plain XOR gives.
fn unmasking(data: &[u8], h: frame::Header) -> Result<(), String> {
    let Some(payload) = usize::try_from(h.payload_len)
        .ok()
        .and_then(|len| data.get(h.header_len..h.header_len.checked_add(len)?))
    else {
        return Ok(());
    };
    let mut ours = payload.to_vec();
    frame::unmask(&mut ours, h.mask);
    let reference: Vec<u8> = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ h.mask[i % 4])
        .collect();
    if ours != reference {
        return Err("unmasking differs from a plain XOR".into());
    }
    Ok(())
}

/// A close frame's payload against tungstenite's rules: no payload, or a code a peer may send
/// (`CloseCode::is_allowed`) and a UTF-8 reason.
pub fn close_payload(data: &[u8]) -> Result<(), String> {
    let ours = frame::close_code(data);
    let theirs = match data {
        [] => Some(None),
        [_] => None,
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let allowed = CloseCode::from(code).is_allowed() && std::str::from_utf8(reason).is_ok();
            allowed.then_some(Some(code))
        }
    };
    match (&ours, theirs) {
        (Ok(ours), Some(theirs)) if *ours == theirs => Ok(()),
        (Err(_), None) => Ok(()),
        _ => Err(format!("read {ours:?}; tungstenite's rules say {theirs:?}")),
    }
}

/// The packet decoder against a plain JSON reading of the same text.
pub fn packet(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    // A number serde_json cannot hold (1e400) is still JSON, and JavaScript reads it
    // (Infinity): scgate keeps it as raw text, the reference cannot read it at all.
    let syntax_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    if syntax_ok && serde_json::from_str::<Value>(text).is_err() {
        return Ok(());
    }
    match decode::decode(text) {
        Inbound::Batch(items) => {
            let Ok(Value::Array(values)) = serde_json::from_str::<Value>(text) else {
                return Err("a batch that is not a JSON array".into());
            };
            if values.len() != items.len() {
                return Err(format!(
                    "{} elements; JSON has {}",
                    items.len(),
                    values.len()
                ));
            }
            for item in items {
                element(item.get(), decode::decode_element(item), false)?;
            }
            Ok(())
        }
        other => element(text, other, true),
    }
}

/// One packet (a whole frame's text when `top`, else a batch element) against its JSON.
fn element(text: &str, ours: Inbound<'_>, top: bool) -> Result<(), String> {
    let value: Option<Value> = serde_json::from_str(text).ok();
    let expected = match &value {
        _ if top && text.is_empty() => "pong2",
        _ if top && text == "#2" => "pong1",
        Some(Value::String(s)) if !top && s.is_empty() => "pong2",
        Some(Value::String(s)) if !top && s == "#2" => "pong1",
        Some(Value::Array(_)) if top && text.trim_start().starts_with('[') => "batch",
        Some(Value::Object(map)) if text.starts_with('{') || top => {
            // Repeated keys: JSON.parse keeps the last, scgate refuses the packet (raw).
            if has_repeated_keys(text) {
                "raw"
            } else {
                match (map.get("event"), map.get("rid")) {
                    (Some(Value::String(_)), _) => "event",
                    (Some(Value::Null) | None, Some(rid)) if !rid.is_null() => "response",
                    _ => "raw",
                }
            }
        }
        _ => "raw",
    };
    let got = match &ours {
        Inbound::PongV1 => "pong1",
        Inbound::PongV2 => "pong2",
        Inbound::Batch(_) => "batch",
        Inbound::Event(_) => "event",
        Inbound::Response => "response",
        Inbound::Raw => "raw",
    };
    if got != expected {
        return Err(format!(
            "{text:?} decoded as {got}; its JSON says {expected}"
        ));
    }
    if let (Inbound::Event(e), Some(Value::Object(map))) = (&ours, &value) {
        event_fields(text, e, map)?;
    }
    Ok(())
}

fn event_fields(
    text: &str,
    e: &decode::EventPacket<'_>,
    map: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    if map.get("event").and_then(Value::as_str) != Some(e.event.as_ref()) {
        return Err(format!(
            "event name {:?} vs {:?}",
            e.event,
            map.get("event")
        ));
    }
    let data: Option<Value> = e
        .data
        .map(|d| serde_json::from_str(d.get()))
        .transpose()
        .map_err(|x| x.to_string())?;
    if data.as_ref() != map.get("data") {
        return Err(format!("data {data:?} vs {:?}", map.get("data")));
    }
    let cid_ok = match (e.cid, map.get("cid")) {
        (Cid::Absent, None) => true,
        (Cid::Num(n), Some(v)) => v.as_u64() == Some(n),
        // A cid that JSON reads as a whole number but that is written otherwise (1e2, -0,
        // 1.0) is no cid to scgate: SocketCluster clients write cids as digits.
        (Cid::Invalid, Some(v)) => v.as_u64().is_none() || !cid_written_as_digits(text),
        _ => false,
    };
    if !cid_ok {
        return Err(format!("cid {:?} vs {:?}", e.cid, map.get("cid")));
    }
    Ok(())
}

/// Whether the packet's `cid` is written as plain digits.
fn cid_written_as_digits(text: &str) -> bool {
    let fields: std::collections::HashMap<String, &RawValue> = match serde_json::from_str(text) {
        Ok(fields) => fields,
        Err(_) => return false,
    };
    fields
        .get("cid")
        .is_some_and(|raw| !raw.get().is_empty() && raw.get().bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a JSON object repeats one of the keys scgate reads.
fn has_repeated_keys(text: &str) -> bool {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(Visit)
        }
    }
    let Ok(Keys(keys)) = serde_json::from_str::<Keys>(text) else {
        return false;
    };
    ["event", "data", "cid", "rid"]
        .iter()
        .any(|name| keys.iter().filter(|k| k == name).count() > 1)
}
