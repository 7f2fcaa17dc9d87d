//! Socket ids: opaque 20-character strings to clients (like SocketCluster's base64ids), which
//! encode the owning worker and its local key so a message for a socket is routed without a
//! global table.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Encodes `(worker, key)` with 5 random bytes, so ids are not guessable from each other.
pub fn encode(worker: usize, key: u64) -> String {
    let mut bytes = [0u8; 15];
    bytes[..2].copy_from_slice(&(worker as u16).to_be_bytes());
    bytes[2..10].copy_from_slice(&key.to_be_bytes());
    rand::fill(&mut bytes[10..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `(worker, key)` an id names, if it is one of ours.
pub fn decode(id: &str) -> Option<(usize, u64)> {
    let mut bytes = [0u8; 15];
    if id.len() != 20 || URL_SAFE_NO_PAD.decode_slice(id, &mut bytes).ok()? != 15 {
        return None;
    }
    let worker = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
    let key = u64::from_be_bytes(bytes[2..10].try_into().ok()?);
    Some((worker, key))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_uniqueness() {
        let a = super::encode(3, 77);
        let b = super::encode(3, 77);
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_eq!(super::decode(&a), Some((3, 77)));
        assert_eq!(super::decode("not-an-id"), None);
    }
}
