//! `demo-login`: demo `login` and `logout` handlers (world `handler-plugin`). A demo of the
//! auth flow, NOT an authentication scheme: it signs in whoever names a user.
//!
//! `login` with `{"username":U, "role":R, "channels":[…]}` signs the claims
//! `{"username":U, "role":R or "user", "channels":[…] or []}` into the socket's auth token
//! (`host::set-auth-token`) and acknowledges without data; without a string `username` it
//! answers a `LoginError`. `logout` removes the token (`host::deauthenticate`).
//!
//! There is no password: the client chooses its own role and channels. This is a demo and
//! test plugin for the `access-control` middleware, not an authentication scheme.

use serde_json::{json, Value};

wit_bindgen::generate!({ path: "../../wit", world: "handler-plugin" });

use exports::scgate::plugin::handler::{Error, Guest, Registration, Socket};
use scgate::plugin::host;

/// An error object without extra properties.
fn error(name: &str, message: &str) -> Error {
    Error {
        name: name.to_string(),
        message: message.to_string(),
        extra: None,
    }
}

/// Builds the token claims from the `login` data, or `None` if it has no string `username`.
fn claims(data: Option<&str>) -> Option<Value> {
    let data: Value = serde_json::from_str(data?).ok()?;
    let username = data.get("username")?.as_str()?;
    let role = data.get("role").and_then(Value::as_str).unwrap_or("user");
    let channels = match data.get("channels") {
        Some(channels @ Value::Array(_)) => channels.clone(),
        _ => json!([]),
    };
    Some(json!({ "username": username, "role": role, "channels": channels }))
}

struct Login;

impl Guest for Login {
    fn init(_config: String) -> Result<Registration, String> {
        // Said each time it loads, so that no one runs it by mistake (the repository's
        // scgate.toml loads it for the sample app).
        host::log(
            host::Level::Warn,
            "demo-login is a demo: `login` signs in whoever names a user, with any role and \
             channels, and no password. Do not load it on a gateway others can reach.",
        );
        Ok(Registration {
            events: vec!["login".to_string(), "logout".to_string()],
        })
    }

    fn on_event(
        socket: Socket,
        event: String,
        data: Option<String>,
    ) -> Result<Option<String>, Error> {
        match event.as_str() {
            "login" => {
                let claims = claims(data.as_deref())
                    .ok_or_else(|| error("LoginError", "username required"))?;
                // The gateway signs the token and sends `#setAuthToken` before this ack.
                host::set_auth_token(&socket.id, &claims.to_string())?;
                Ok(None)
            }
            "logout" => {
                host::deauthenticate(&socket.id)?;
                Ok(None)
            }
            // The gateway only sends the events registered in `init`.
            _ => Err(error(
                "UnknownEventError",
                &format!("demo-login does not handle {event}"),
            )),
        }
    }
}

export!(Login);

/// Run natively: `cargo test --target x86_64-unknown-linux-gnu`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_take_defaults_and_need_a_username() {
        let full = claims(Some(
            r#"{"username":"u","role":"admin","channels":["private/a"],"x":1}"#,
        ));
        assert_eq!(
            full,
            Some(json!({"username":"u","role":"admin","channels":["private/a"]}))
        );
        let bare = claims(Some(r#"{"username":"u"}"#));
        assert_eq!(
            bare,
            Some(json!({"username":"u","role":"user","channels":[]}))
        );
        assert_eq!(claims(None), None);
        assert_eq!(claims(Some(r#"{"username":5}"#)), None);
        assert_eq!(claims(Some("not json")), None);
    }
}
