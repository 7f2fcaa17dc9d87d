//! Socket ids: opaque 20-character strings to clients (like SocketCluster's base64ids), which
//! encode the owning worker and its local key so a message for a socket is routed without a
//! global table. The routing part is masked with a keyed hash of the id's random part, so ids reveal
//! neither the worker nor how many sockets came before.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;

/// The mask over an id's 10 routing bytes (worker and key): a keyed hash of its 5 random
/// bytes, with a key drawn once per process, so no two ids share a visible pattern.
fn apply_mask(routing: &mut [u8], random: &[u8]) {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    let key = KEY.get_or_init(RandomState::new);
    let mask: Vec<u8> = (0u8..2)
        .flat_map(|salt| key.hash_one((salt, random)).to_le_bytes())
        .collect();
    for (byte, m) in routing.iter_mut().zip(mask) {
        *byte ^= m;
    }
}

/// Encodes `(worker, key)` with 5 random bytes, so ids are not guessable from each other.
pub fn encode(worker: usize, key: u64) -> String {
    let mut bytes = [0u8; 15];
    bytes[..2].copy_from_slice(&(worker as u16).to_be_bytes());
    bytes[2..10].copy_from_slice(&key.to_be_bytes());
    rand::fill(&mut bytes[10..]);
    let (routing, random) = bytes.split_at_mut(10);
    apply_mask(routing, random);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `(worker, key)` an id names, if it is in this gateway's form.
pub fn decode(id: &str) -> Option<(usize, u64)> {
    let mut bytes = [0u8; 15];
    if id.len() != 20 || URL_SAFE_NO_PAD.decode_slice(id, &mut bytes).ok()? != 15 {
        return None;
    }
    let (routing, random) = bytes.split_at_mut(10);
    apply_mask(routing, random);
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

    #[test]
    fn consecutive_ids_share_no_visible_prefix_pattern() {
        let (a, b) = (super::encode(0, 1), super::encode(0, 2));
        assert!(!a.starts_with("AAAAAAAA"), "{a}");
        assert_ne!(a[..13], b[..13]);
    }
}
