//! SocketCluster error objects: `{"name":…,"message":…,<extra props>}` on the wire
//! (`sc-protocol.md` section 5). Clients rebuild them into `Error`s and copy the extra props.

use serde_json::{Map, Value};

/// An error as a client receives it: a name, a message and any extra properties.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorObject {
    /// The `name` clients switch on, e.g. `InvalidActionError`.
    pub name: String,
    /// Human-readable text.
    pub message: String,
    /// Further properties copied onto the client's `Error` (e.g. `type`, `code`, `expiry`).
    pub extra: Map<String, Value>,
}

impl ErrorObject {
    /// An error with a name and message and no extra properties.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorObject {
            name: name.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds one extra property (builder style).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// `InvalidActionError`: a request the protocol does not allow.
    pub fn invalid_action(message: impl Into<String>) -> Self {
        Self::new("InvalidActionError", message)
    }

    /// `BrokerError`: a channel operation the broker could not carry out.
    pub fn broker(message: impl Into<String>) -> Self {
        Self::new("BrokerError", message)
    }

    /// The JSON object as sent on the wire.
    pub fn to_value(&self) -> Value {
        let mut map = Map::with_capacity(self.extra.len() + 2);
        map.insert("message".into(), Value::String(self.message.clone()));
        map.insert("name".into(), Value::String(self.name.clone()));
        for (key, value) in &self.extra {
            if key != "message" && key != "name" {
                map.insert(key.clone(), value.clone());
            }
        }
        Value::Object(map)
    }
}

impl std::fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_props_follow_name_and_message_and_cannot_override_them() {
        let err = ErrorObject::new("CustomError", "boom")
            .with("extra", 42)
            .with("name", "Forged");
        let expected: Value =
            serde_json::from_str(r#"{"message":"boom","name":"CustomError","extra":42}"#).unwrap();
        assert_eq!(err.to_value(), expected);
    }
}
