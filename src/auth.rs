//! Auth tokens: JWTs signed by the gateway with HS256, as SocketCluster servers sign them
//! (`sc-protocol.md` section 10), so tokens work with Node SocketCluster servers sharing the key.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Random key length when none is configured: the HS256 minimum (RFC 7518 section 3.2).
const RANDOM_KEY_BYTES: usize = 32;

/// Why claims could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The claims are not a JSON object.
    #[error("auth token claims must be a JSON object")]
    NotAnObject,
    /// The JWT library refused them.
    #[error("cannot sign the auth token: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
}

/// Signs auth tokens for one gateway process.
pub struct Signer {
    key: EncodingKey,
    default_expiry_s: u64,
}

impl Signer {
    /// A signer with `key`, or with a random key (and a warning) when `key` is empty.
    pub fn new(key: &str, default_expiry_s: u64) -> Self {
        let key = if key.is_empty() {
            tracing::warn!(
                "no auth_key configured: auth tokens are signed with a random key and will not \
                 survive a restart or work across nodes"
            );
            let random: [u8; RANDOM_KEY_BYTES] = rand::random();
            EncodingKey::from_secret(&random)
        } else {
            EncodingKey::from_secret(key.as_bytes())
        };
        Signer {
            key,
            default_expiry_s,
        }
    }

    /// Signs `claims` (JSON object text), adding `iat`, and `exp` unless present. Returns the
    /// token and the claims as signed.
    pub fn sign(&self, claims: &str) -> Result<(String, Map<String, Value>), SignError> {
        let Ok(Value::Object(mut claims)) = serde_json::from_str::<Value>(claims) else {
            return Err(SignError::NotAnObject);
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        claims.insert("iat".into(), now.into());
        if !claims.contains_key("exp") {
            claims.insert("exp".into(), (now + self.default_expiry_s).into());
        }
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.key)?;
        Ok((token, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    #[test]
    fn adds_iat_and_default_expiry_but_keeps_an_explicit_exp() {
        let signer = Signer::new("0123456789abcdef0123456789abcdef", 100);
        let (token, claims) = signer.sign(r#"{"username":"bob"}"#).unwrap();
        assert_eq!(
            claims["exp"].as_u64().unwrap(),
            claims["iat"].as_u64().unwrap() + 100
        );
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&header).unwrap()["alg"],
            "HS256"
        );
        let (_, claims) = signer.sign(r#"{"exp":42}"#).unwrap();
        assert_eq!(claims["exp"], 42);
        assert!(signer.sign("[1]").is_err());
    }
}
