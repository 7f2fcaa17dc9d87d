//! Auth tokens: JWTs signed and verified by the gateway as SocketCluster servers do
//! (`sc-protocol.md` section 10). HS256 with a shared key by default, so tokens work with Node
//! SocketCluster servers sharing the key; RS256 or ES256 with key files as options. The
//! algorithm is fixed per gateway.

pub mod keys;
mod verify;

pub use keys::{KeyError, KeyPair};
pub use verify::TokenError;

use crate::config::Settings;
use jsonwebtoken::{encode, Header};
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Signs and verifies the auth tokens of one gateway process (every worker shares it).
pub struct Signer {
    keys: KeyPair,
    default_expiry_s: u64,
    leeway_s: u64,
    /// Refuse tokens without `exp` (`auth_require_exp`).
    require_exp: bool,
    /// Longest token accepted (`auth_max_token_bytes`); longer ones are refused unread.
    max_token_bytes: usize,
}

impl Signer {
    /// The signer the settings describe; warns when the HS256 key is random.
    pub fn from_settings(s: &Settings) -> Result<Self, KeyError> {
        let keys = KeyPair::from_settings(s)?;
        if keys.random {
            tracing::warn!(
                "no auth_key configured: auth tokens are signed with a random key and will not \
                 survive a restart or work across nodes (set SCGATE_AUTH_KEY)"
            );
        }
        let signer = Self::new(keys, s.auth_default_expiry_s, s.auth_leeway_s);
        Ok(signer.with_token_rules(s.auth_require_exp, s.auth_max_token_bytes))
    }

    /// The same signer, refusing tokens without `exp` when `require_exp`, and tokens longer
    /// than `max_token_bytes`.
    pub fn with_token_rules(mut self, require_exp: bool, max_token_bytes: usize) -> Self {
        self.require_exp = require_exp;
        self.max_token_bytes = max_token_bytes;
        self
    }

    /// A signer with these keys, default lifetime and leeway (both in seconds).
    pub fn new(keys: KeyPair, default_expiry_s: u64, leeway_s: u64) -> Self {
        Signer {
            keys,
            default_expiry_s,
            leeway_s,
            require_exp: false,
            max_token_bytes: usize::MAX,
        }
    }

    /// Signs `claims` (JSON object text), adding `iat`, and `exp = iat + default expiry` unless
    /// the claims carry `exp`. Returns the token and the claims as signed.
    pub fn sign(&self, claims: &str) -> Result<(String, Map<String, Value>), SignError> {
        let Ok(Value::Object(mut claims)) = serde_json::from_str::<Value>(claims) else {
            return Err(SignError::NotAnObject);
        };
        let now = now_s() as u64;
        claims.insert("iat".into(), now.into());
        if !claims.contains_key("exp") {
            claims.insert("exp".into(), (now + self.default_expiry_s).into());
        }
        let token = encode(
            &Header::new(self.keys.algorithm),
            &claims,
            &self.keys.encoding,
        )?;
        Ok((token, claims))
    }

    /// Verifies a token's signature, algorithm, `exp`, `nbf` and `iat` (with the leeway), and
    /// returns its claims.
    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        if token.len() > self.max_token_bytes {
            let limit = self.max_token_bytes;
            return Err(TokenError::Invalid(format!(
                "jwt longer than {limit} bytes"
            )));
        }
        let claims = verify::verify(&self.keys, self.leeway_s, token)?;
        if self.require_exp && !claims.get("exp").is_some_and(Value::is_number) {
            return Err(TokenError::Invalid("jwt has no exp".into()));
        }
        Ok(claims)
    }

    /// Whether a socket holding a token with this `exp` must be deauthenticated now: checked
    /// on every inbound message and pong, like SocketCluster's `isAuthTokenExpired`.
    pub fn is_expired(&self, exp: f64) -> bool {
        now_s() > exp + self.leeway_s as f64
    }
}

/// Seconds since the Unix epoch, with fractions.
pub(crate) fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn signer(leeway_s: u64) -> Signer {
        Signer::new(KeyPair::hs256(KEY), 100, leeway_s)
    }

    #[test]
    fn adds_iat_and_default_expiry_but_keeps_an_explicit_exp() {
        let signer = signer(0);
        let (token, claims) = signer.sign(r#"{"username":"bob"}"#).unwrap();
        assert_eq!(
            claims["exp"].as_u64().unwrap(),
            claims["iat"].as_u64().unwrap() + 100
        );
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        let header: Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "JWT");
        let (_, claims) = signer.sign(r#"{"exp":42}"#).unwrap();
        assert_eq!(claims["exp"], 42);
        assert!(signer.sign("[1]").is_err());
    }

    #[test]
    fn a_signed_token_verifies_and_another_key_does_not() {
        let (token, claims) = signer(0).sign(r#"{"username":"bob"}"#).unwrap();
        assert_eq!(signer(0).verify(&token).unwrap(), claims);
        let other = Signer::new(KeyPair::hs256(&[7; 32]), 100, 0);
        let err = other.verify(&token).unwrap_err();
        assert_eq!(err.to_error_object().name, "AuthTokenInvalidError");
    }

    #[test]
    fn expiry_allows_the_leeway() {
        let now = now_s();
        assert!(!signer(5).is_expired(now - 2.0));
        assert!(signer(0).is_expired(now - 2.0));
        assert!(!signer(0).is_expired(now + 60.0));
    }
}
