//! RFC 6455 framing for the server side: parsing a client's frame header (clients must mask,
//! no extensions are negotiated) and writing unmasked server frames.

/// Frame opcodes (RFC 6455 section 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    pub(crate) fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// Longest control-frame payload (RFC 6455 section 5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub fin: bool,
    pub opcode: Opcode,
    pub mask: [u8; 4],
    /// Bytes of header before the payload.
    pub header_len: usize,
    pub payload_len: u64,
}

/// Why a client's bytes are not a valid frame: the connection must fail (close 1002).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// A reserved bit is set: no extension was negotiated.
    ReservedBits,
    UnknownOpcode(u8),
    /// Clients must mask every frame.
    Unmasked,
    /// A control frame that is fragmented or longer than 125 bytes.
    BadControl,
    /// A 64-bit length with its most significant bit set.
    BadLength,
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::ReservedBits => f.write_str("reserved bits set"),
            HeaderError::UnknownOpcode(op) => write!(f, "unknown opcode {op:#x}"),
            HeaderError::Unmasked => f.write_str("unmasked frame from a client"),
            HeaderError::BadControl => f.write_str("fragmented or oversize control frame"),
            HeaderError::BadLength => f.write_str("invalid 64-bit payload length"),
        }
    }
}

/// Parses the header at the start of `buf`: `Ok(None)` when more bytes are needed.
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<Header>, HeaderError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(HeaderError::ReservedBits);
    }
    let fin = b0 & 0x80 != 0;
    let opcode = Opcode::from_bits(b0 & 0x0F).ok_or(HeaderError::UnknownOpcode(b0 & 0x0F))?;
    if b1 & 0x80 == 0 {
        return Err(HeaderError::Unmasked);
    }
    let (payload_len, len_bytes) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().unwrap_or([0xFF; 8]));
                if len >> 63 != 0 {
                    return Err(HeaderError::BadLength);
                }
                (len, 8)
            }
            None => return Ok(None),
        },
        len => (u64::from(len), 0),
    };
    if opcode.is_control() && (!fin || payload_len > MAX_CONTROL_PAYLOAD as u64) {
        return Err(HeaderError::BadControl);
    }
    let mask_at = 2 + len_bytes;
    let Some(mask) = buf.get(mask_at..mask_at + 4) else {
        return Ok(None);
    };
    Ok(Some(Header {
        fin,
        opcode,
        mask: [mask[0], mask[1], mask[2], mask[3]],
        header_len: mask_at + 4,
        payload_len,
    }))
}

/// Whether `code` may travel in a close frame (RFC 6455 section 7.4): 1000–1003, 1007–1013 and
/// 3000–4999. 1004–1006 and 1015 only stand for conditions an endpoint observes (1005 "no
/// code", 1006 "abnormal closure"), 1014 is not one tungstenite accepts, and the rest is
/// unassigned. The same set bounds what a peer may send and what the gateway sends.
pub(crate) fn may_send(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1013 | 3000..=4999)
}

/// The code of a peer's close frame: none for an empty payload, else a code it may send and a
/// UTF-8 reason; anything else fails the connection (1002).
pub(crate) fn close_code(payload: &[u8]) -> Result<Option<u16>, &'static str> {
    match payload {
        [] => Ok(None),
        [_] => Err("a close frame with a one-byte payload"),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !may_send(code) {
                return Err("a close code that may not be sent");
            }
            std::str::from_utf8(reason).map_err(|_| "a close reason that is not UTF-8")?;
            Ok(Some(code))
        }
    }
}

/// Unmasks `payload` in place.
pub(crate) fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = payload.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let value = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (byte, key) in chunks.into_remainder().iter_mut().zip(mask) {
        *byte ^= key;
    }
}

/// Appends one unmasked, unfragmented server frame to `out`.
pub(crate) fn write_frame(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    let len = payload.len();
    out.reserve(len + 10);
    out.push(0x80 | opcode.bits());
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// Appends a close frame: no payload without a code, else the code and `reason`.
pub(crate) fn write_close(out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
    let mut payload = Vec::with_capacity(2 + reason.len());
    if let Some(code) = code {
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
    }
    payload.truncate(MAX_CONTROL_PAYLOAD);
    write_frame(out, Opcode::Close, &payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame as a client would send it.
    fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![b0];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 0xFFFF {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn parses_and_unmasks_each_length_form() {
        for len in [0, 5, 125, 126, 65_535, 65_536] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut frame = client_frame(0x81, &payload, [1, 2, 3, 4]);
            let header = parse_header(&frame).unwrap().unwrap();
            assert_eq!(header.opcode, Opcode::Text);
            assert!(header.fin);
            assert_eq!(header.payload_len, len as u64);
            assert_eq!(header.header_len + len, frame.len());
            // Every prefix shorter than the header asks for more bytes.
            for cut in 0..header.header_len {
                assert_eq!(parse_header(&frame[..cut]), Ok(None), "len {len} cut {cut}");
            }
            let body = &mut frame[header.header_len..];
            unmask(body, header.mask);
            assert_eq!(body, &payload[..]);
        }
    }

    #[test]
    fn rejects_what_a_client_may_not_send() {
        let unmasked = [0x81, 0x01, b'a'];
        assert_eq!(parse_header(&unmasked), Err(HeaderError::Unmasked));
        let rsv = client_frame(0xC1, b"a", [0; 4]);
        assert_eq!(parse_header(&rsv), Err(HeaderError::ReservedBits));
        let opcode = client_frame(0x83, b"a", [0; 4]);
        assert_eq!(parse_header(&opcode), Err(HeaderError::UnknownOpcode(3)));
        let fragmented_ping = client_frame(0x09, b"a", [0; 4]);
        assert_eq!(parse_header(&fragmented_ping), Err(HeaderError::BadControl));
        let long_ping = client_frame(0x89, &[0; 126], [0; 4]);
        assert_eq!(parse_header(&long_ping), Err(HeaderError::BadControl));
        let mut huge = vec![0x82, 0x80 | 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        huge.extend_from_slice(&[0; 4]);
        assert_eq!(parse_header(&huge), Err(HeaderError::BadLength));
    }

    #[test]
    fn writes_server_frames_unmasked_with_the_shortest_length() {
        for (len, header) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let mut out = Vec::new();
            write_frame(&mut out, Opcode::Text, &vec![b'x'; len]);
            assert_eq!(out.len(), header + len);
            assert_eq!(out[0], 0x81);
            assert_eq!(out[1] & 0x80, 0, "server frames are not masked");
        }
        let mut close = Vec::new();
        write_close(&mut close, Some(4000), "bye");
        assert_eq!(close, [0x88, 5, 0x0F, 0xA0, b'b', b'y', b'e']);
        let mut empty = Vec::new();
        write_close(&mut empty, None, "ignored");
        assert_eq!(empty, [0x88, 0]);
    }
}
