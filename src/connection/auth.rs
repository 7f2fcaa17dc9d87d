//! Authentication on one socket (`sc-protocol.md` section 10): the token a client presents in
//! `#handshake` or `#authenticate` (verified, then passed through the authenticate middleware),
//! tokens that expire during a session, and signing in or out on behalf of application code.

use super::session::Session;
use super::{actions, middleware};
use crate::auth::TokenError;
use crate::hooks::{Actions, Stage};
use crate::protocol::{encode, Cid, ErrorObject, Generation};
use serde_json::{json, Map, Value};

/// What came of a token a client presented.
pub(super) struct Presented {
    /// `None`: accepted. `Some`: the `authError` for the client, and whether the token is bad
    /// (the client must drop it).
    pub rejected: Option<(ErrorObject, bool)>,
    /// A close of the calling socket that the authenticate middleware asked for; done after
    /// the reply.
    pub close_self: Option<(u16, String)>,
}

/// The token in a `#handshake`'s data (`{"authToken": <string|null>}`): `None` when there is
/// none (absent, `null` or `""`, as SocketCluster treats them).
pub(super) fn handshake_token(data: Option<&serde_json::value::RawValue>) -> Option<Value> {
    let data: Value = serde_json::from_str(data?.get()).ok()?;
    match data.get("authToken")? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        token => Some(token.clone()),
    }
}

/// Verifies a presented token (any JSON value: only a string can be one) and runs the
/// authenticate middleware on its claims. On any failure the socket is left unauthenticated,
/// as in SocketCluster; the caller tells the client.
pub(super) async fn present(s: &mut Session, token: Option<&Value>) -> Presented {
    let verified = match token {
        None | Some(Value::Null) => Err(TokenError::missing()),
        Some(Value::String(token)) => s.ctx.signer.verify(token),
        Some(_) => Err(TokenError::Invalid("jwt must be a string".into())),
    };
    let claims = match verified {
        Ok(claims) => claims,
        Err(err) => {
            s.set_auth(None);
            return Presented {
                rejected: Some((err.to_error_object(), err.is_bad_token())),
                close_self: None,
            };
        }
    };
    s.set_auth(Some(&claims));
    let claims_json = Value::Object(claims).to_string();
    let mut actions = Actions::default();
    let hooks = s.ctx.hooks.clone();
    let verdict = hooks.authenticate(&s.info, &claims_json, &mut actions);
    let close_self = actions::apply_all(s, actions).await;
    let rejected = match middleware::outcome(verdict, Stage::Authenticate, s.generation) {
        // A rewrite has no meaning for a token; the claims stay as signed.
        Ok(_) => None,
        Err(error) => {
            s.set_auth(None);
            let bad = error.extra.get("isBadToken") == Some(&Value::Bool(true));
            Some((error, bad))
        }
    };
    Presented {
        rejected,
        close_self,
    }
}

/// Answers `#authenticate` (data: the token). Accepted: `{isAuthenticated: true, authError:
/// null}`. A bad token: `#removeAuthToken`, then an error response that also carries `data`
/// (v14 clients read `isAuthenticated` from it). Otherwise (not yet valid, or blocked by
/// middleware without `isBadToken`): a plain response with `isAuthenticated: false` and
/// `authError`.
pub(super) async fn authenticate(
    s: &mut Session,
    cid: Cid,
    data: Option<&serde_json::value::RawValue>,
) {
    let token: Option<Value> = data.and_then(|d| serde_json::from_str(d.get()).ok());
    let presented = present(s, token.as_ref()).await;
    match presented.rejected {
        None => s.reply(cid, Some(r#"{"isAuthenticated":true,"authError":null}"#)),
        Some((error, bad)) => {
            let status = json!({ "isAuthenticated": false, "authError": error.to_value() });
            if bad {
                // Before the response, so the client has dropped the token by the time its
                // `authenticate()` settles.
                deauthenticate(s);
                if let Cid::Num(rid) = cid {
                    let frame = encode::error_response(rid, &error, Some(&status.to_string()));
                    s.outbox.push(frame);
                }
            } else {
                s.reply(cid, Some(&status.to_string()));
            }
        }
    }
    if let Some((code, reason)) = presented.close_self {
        s.close(code, &reason);
    }
}

/// Deauthenticates a socket whose token has expired (beyond the leeway), as SocketCluster does
/// on every inbound message and pong. Returns the `AuthTokenExpiredError` that v14 answers a
/// `waitForAuth` subscribe with.
pub(super) fn check_expiry(s: &mut Session) -> Option<ErrorObject> {
    let exp = s.auth_exp.clone()?;
    if !s.ctx.signer.is_expired(exp.as_f64().unwrap_or(0.0)) {
        return None;
    }
    deauthenticate(s);
    Some(
        ErrorObject::new("AuthTokenExpiredError", "The socket auth token has expired")
            .with("expiry", exp),
    )
}

/// Signs the claims and sends `#setAuthToken` (a control frame, so it always precedes the reply
/// that is queued after it: `sc-protocol.md` checklist item 11).
pub(super) fn set_auth_token(s: &mut Session, claims: &str) {
    match s.ctx.signer.sign(claims) {
        Ok((token, claims)) => {
            let data = json!({ "token": token }).to_string();
            s.outbox
                .push_control_frame(encode::event("#setAuthToken", Some(&data)));
            s.set_auth(Some(&claims));
        }
        Err(err) => {
            // SocketCluster closes with 4002 "Server failed to sign auth token".
            tracing::warn!(socket = %s.info.id, "{err}");
            s.close(4002, "Server failed to sign auth token");
        }
    }
}

/// Sends `#removeAuthToken` (v14 with `data: null`, as its server does) and forgets the token.
pub(super) fn deauthenticate(s: &mut Session) {
    let data = (s.generation == Generation::V1).then_some("null");
    s.outbox
        .push_control_frame(encode::event("#removeAuthToken", data));
    s.set_auth(None);
}

/// The claims as hooks see them (JSON text) and their `exp`, if it is a number.
pub(super) fn claims_state(claims: &Map<String, Value>) -> (String, Option<Value>) {
    let exp = claims.get("exp").filter(|exp| exp.is_number()).cloned();
    (Value::Object(claims.clone()).to_string(), exp)
}
