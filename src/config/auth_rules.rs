//! The rules of the auth settings: which keys each algorithm needs, the HS256 key length, a
//! small leeway — and, for RS256 / ES256, that the key files exist, parse and belong together,
//! so a bad key stops `scgate serve` before it listens.

use super::{invalid, AuthAlgorithm, Invalid, Settings};
use crate::auth::KeyPair;

/// Shortest HS256 key accepted: RFC 7518 section 3.2 requires a key at least as long as the
/// 256-bit hash output.
pub(super) const MIN_AUTH_KEY_BYTES: usize = 32;
/// Largest leeway accepted: it is for clock skew between nodes, which NTP keeps far below
/// this; more would keep expired tokens alive for minutes.
const MAX_LEEWAY_S: u64 = 300;

/// Every broken auth rule.
pub(super) fn check(s: &Settings) -> Vec<Invalid> {
    let mut all = Vec::new();
    if s.auth_leeway_s > MAX_LEEWAY_S {
        let reason = format!("must be at most {MAX_LEEWAY_S}, got {}", s.auth_leeway_s);
        all.push(invalid("auth_leeway_s", reason));
    }
    if s.auth_algorithm == AuthAlgorithm::Hs256 {
        if !s.auth_key.is_empty() && s.auth_key.len() < MIN_AUTH_KEY_BYTES {
            let reason = format!(
                "must be at least {MIN_AUTH_KEY_BYTES} bytes for HS256 (or empty for a random \
                 key), got {} bytes",
                s.auth_key.len()
            );
            all.push(invalid("auth_key", reason));
        }
        for (key, value) in [
            ("auth_private_key_file", &s.auth_private_key_file),
            ("auth_public_key_file", &s.auth_public_key_file),
        ] {
            if !value.is_empty() {
                let reason = "is only used when auth_algorithm is RS256 or ES256 (it is HS256)";
                all.push(invalid(key, reason.into()));
            }
        }
        return all;
    }
    if !s.auth_key.is_empty() {
        let reason = "is only used when auth_algorithm is HS256; RS256 and ES256 use \
                      auth_private_key_file and auth_public_key_file";
        all.push(invalid("auth_key", reason.into()));
    }
    if let Err(err) = KeyPair::from_settings(s) {
        all.push(invalid(err.key, err.reason));
    }
    all
}
