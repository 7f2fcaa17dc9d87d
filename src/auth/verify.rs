//! Verifying a token a client presents, and the SocketCluster error each failure becomes
//! (`sc-protocol.md` section 10): an expired token is `AuthTokenExpiredError` with `expiry`,
//! one not yet valid `AuthTokenNotBeforeError` with `date` (not a "bad" token: the client keeps
//! it), anything else `AuthTokenInvalidError`. Messages are those of Node's `jsonwebtoken`.

use super::keys::KeyPair;
use crate::date::iso_utc;
use crate::protocol::ErrorObject;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Validation;
use serde_json::{Map, Value};

/// Why a token was not accepted.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TokenError {
    /// `exp` has passed (beyond the leeway); `expiry` is that `exp`.
    #[error("{message}")]
    Expired { message: String, expiry: f64 },
    /// `nbf` is still ahead (beyond the leeway); `date` is that `nbf`.
    #[error("{message}")]
    NotBefore { message: String, date: f64 },
    /// Malformed, wrong algorithm, bad signature or bad claim types.
    #[error("{0}")]
    Invalid(String),
}

impl TokenError {
    /// The error for a missing or empty token.
    pub fn missing() -> Self {
        TokenError::Invalid("jwt must be provided".into())
    }

    /// Whether the client should drop the token (`#removeAuthToken`): every failure except a
    /// token that is merely not valid yet.
    pub fn is_bad_token(&self) -> bool {
        !matches!(self, TokenError::NotBefore { .. })
    }

    /// The error object clients receive, as SocketCluster 20 shapes it (with `isBadToken`).
    pub fn to_error_object(&self) -> ErrorObject {
        let bad = self.is_bad_token();
        match self {
            TokenError::Expired { message, expiry } => {
                ErrorObject::new("AuthTokenExpiredError", message.as_str())
                    .with("expiry", iso_utc(*expiry))
            }
            TokenError::NotBefore { message, date } => {
                ErrorObject::new("AuthTokenNotBeforeError", message.as_str())
                    .with("date", iso_utc(*date))
            }
            TokenError::Invalid(message) => {
                ErrorObject::new("AuthTokenInvalidError", message.as_str())
            }
        }
        .with("isBadToken", bad)
    }
}

/// Verifies `token` against `keys` and returns its claims.
pub(super) fn verify(
    keys: &KeyPair,
    leeway_s: u64,
    token: &str,
) -> Result<Map<String, Value>, TokenError> {
    if token.is_empty() {
        return Err(TokenError::missing());
    }
    // The algorithm is the server's, never the token's: `none` and every other name are
    // refused before any key is used.
    let expected = format!("{:?}", keys.algorithm);
    match header_alg(token) {
        Some(alg) if alg == expected => {}
        Some(_) => return Err(TokenError::Invalid("invalid algorithm".into())),
        None => return Err(TokenError::Invalid("jwt malformed".into())),
    }
    let mut validation = Validation::new(keys.algorithm);
    validation.leeway = leeway_s;
    validation.validate_nbf = true;
    // As in SocketCluster: `exp` is checked when present but not required, and `aud` is not
    // checked (no audience is configured).
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    match jsonwebtoken::decode::<Map<String, Value>>(token, &keys.decoding, &validation) {
        Ok(data) => check_iat(data.claims, leeway_s),
        Err(err) => Err(from_jwt(err.kind(), token)),
    }
}

/// The `alg` of the token's header, if the header is base64url JSON with a string `alg`.
fn header_alg(token: &str) -> Option<String> {
    let (header, rest) = token.split_once('.')?;
    rest.contains('.').then_some(())?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// `iat`, when present, must be a number and not ahead of the clock beyond the leeway.
fn check_iat(claims: Map<String, Value>, leeway_s: u64) -> Result<Map<String, Value>, TokenError> {
    match claims.get("iat") {
        None => Ok(claims),
        Some(Value::Number(iat)) => {
            let iat = iat.as_f64().unwrap_or(f64::INFINITY);
            if iat > super::now_s() + leeway_s as f64 {
                Err(TokenError::Invalid("jwt issued in the future".into()))
            } else {
                Ok(claims)
            }
        }
        Some(_) => Err(TokenError::Invalid("invalid iat value".into())),
    }
}

fn from_jwt(kind: &ErrorKind, token: &str) -> TokenError {
    match kind {
        // The signature held (claims are checked after it), so the claims can be read.
        ErrorKind::ExpiredSignature => TokenError::Expired {
            message: "jwt expired".into(),
            expiry: claim(token, "exp"),
        },
        ErrorKind::ImmatureSignature => TokenError::NotBefore {
            message: "jwt not active".into(),
            date: claim(token, "nbf"),
        },
        ErrorKind::InvalidSignature => TokenError::Invalid("invalid signature".into()),
        ErrorKind::InvalidAlgorithm => TokenError::Invalid("invalid algorithm".into()),
        ErrorKind::InvalidClaimFormat(name) => TokenError::Invalid(format!("invalid {name} value")),
        ErrorKind::InvalidToken => TokenError::Invalid("jwt malformed".into()),
        _ => TokenError::Invalid("invalid token".into()),
    }
}

/// A numeric claim of a token whose signature has been checked.
fn claim(token: &str, name: &str) -> f64 {
    jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
        .ok()
        .and_then(|data| data.claims.get(name).and_then(Value::as_f64))
        .unwrap_or(0.0)
}
