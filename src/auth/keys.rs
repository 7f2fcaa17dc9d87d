//! The key pair of a gateway: an HS256 secret (configured, or random per process), or the PEM
//! key files of RS256 / ES256 — loaded and checked once, at start-up.

use crate::config::{AuthAlgorithm, Settings};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::path::Path;

/// Random key length when none is configured: the HS256 minimum (RFC 7518 section 3.2).
const RANDOM_KEY_BYTES: usize = 32;

/// Why the configured keys cannot be used; the `key` names the setting at fault.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct KeyError {
    /// The setting at fault.
    pub key: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn key_error(key: &'static str, reason: impl Into<String>) -> KeyError {
    KeyError {
        key,
        reason: reason.into(),
    }
}

/// The algorithm with the key that signs and the key that verifies.
pub struct KeyPair {
    /// The one algorithm tokens are signed with and must name.
    pub algorithm: Algorithm,
    /// Signs (the HS256 secret, or the private key).
    pub encoding: EncodingKey,
    /// Verifies (the HS256 secret, or the public key).
    pub decoding: DecodingKey,
    /// Whether the HS256 key was generated here (tokens die with the process).
    pub random: bool,
}

impl KeyPair {
    /// The keys the settings describe. Reads the key files of RS256 / ES256.
    pub fn from_settings(s: &Settings) -> Result<Self, KeyError> {
        match s.auth_algorithm {
            AuthAlgorithm::Hs256 => Ok(Self::hs256(s.auth_key.as_bytes())),
            AuthAlgorithm::Rs256 => Self::asymmetric(s, Algorithm::RS256),
            AuthAlgorithm::Es256 => Self::asymmetric(s, Algorithm::ES256),
        }
    }

    /// HS256 with `secret`, or with a random secret when it is empty.
    pub fn hs256(secret: &[u8]) -> Self {
        let random: [u8; RANDOM_KEY_BYTES] = rand::random();
        let (secret, random) = if secret.is_empty() {
            (&random[..], true)
        } else {
            (secret, false)
        };
        KeyPair {
            algorithm: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            random,
        }
    }

    fn asymmetric(s: &Settings, algorithm: Algorithm) -> Result<Self, KeyError> {
        const PRIVATE: &str = "auth_private_key_file";
        const PUBLIC: &str = "auth_public_key_file";
        let private = read_pem(PRIVATE, &s.auth_private_key_file)?;
        let public = read_pem(PUBLIC, &s.auth_public_key_file)?;
        let (encoding, decoding) = if algorithm == Algorithm::RS256 {
            (
                EncodingKey::from_rsa_pem(&private),
                DecodingKey::from_rsa_pem(&public),
            )
        } else {
            (
                EncodingKey::from_ec_pem(&private),
                DecodingKey::from_ec_pem(&public),
            )
        };
        let what = |kind| format!("not a PEM {kind} key for {algorithm:?}");
        let pair = KeyPair {
            algorithm,
            encoding: encoding
                .map_err(|e| key_error(PRIVATE, format!("{}: {e}", what("private"))))?,
            decoding: decoding
                .map_err(|e| key_error(PUBLIC, format!("{}: {e}", what("public"))))?,
            random: false,
        };
        pair.check_match()?;
        Ok(pair)
    }

    /// Signs and verifies a probe token, so a private key that does not belong to the public
    /// key (or a key of the wrong curve) is refused at start-up instead of on the first login.
    fn check_match(&self) -> Result<(), KeyError> {
        let header = jsonwebtoken::Header::new(self.algorithm);
        let probe = serde_json::json!({ "probe": true });
        let token = jsonwebtoken::encode(&header, &probe, &self.encoding)
            .map_err(|e| key_error("auth_private_key_file", format!("cannot sign with it: {e}")))?;
        let mut validation = jsonwebtoken::Validation::new(self.algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, &self.decoding, &validation)
            .map(drop)
            .map_err(|e| {
                let reason = format!("does not verify what the private key signs: {e}");
                key_error("auth_public_key_file", reason)
            })
    }
}

fn read_pem(key: &'static str, path: &str) -> Result<Vec<u8>, KeyError> {
    if path.is_empty() {
        return Err(key_error(
            key,
            "required when auth_algorithm is RS256 or ES256",
        ));
    }
    std::fs::read(Path::new(path)).map_err(|e| key_error(key, format!("cannot read {path:?}: {e}")))
}
