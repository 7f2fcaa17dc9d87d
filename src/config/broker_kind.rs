//! The `broker` setting: which engine carries channels between nodes.

/// A parsed `broker` setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerKind {
    /// The in-process broker: channels reach only this node.
    Memory,
    /// Redis pub/sub and keys, at this `redis://` (or `rediss://`, `unix://`) URL.
    Redis(String),
    /// Core NATS pub/sub and a JetStream key-value bucket, at this `nats://` URL.
    Nats(String),
}

/// Reads the `broker` setting, or says why it is not valid.
pub fn parse(value: &str) -> Result<BrokerKind, String> {
    if value == "memory" {
        return Ok(BrokerKind::Memory);
    }
    if value.starts_with("nats://") {
        return Ok(BrokerKind::Nats(value.to_owned()));
    }
    let redis = ["redis://", "rediss://", "unix://", "redis+unix://"];
    if redis.iter().any(|scheme| value.starts_with(scheme)) {
        return match ::redis::Client::open(value) {
            Ok(_) => Ok(BrokerKind::Redis(value.to_owned())),
            Err(err) => Err(format!("not a valid Redis URL ({err}), got {value:?}")),
        };
    }
    Err(format!(
        "must be \"memory\", a redis:// URL or a nats:// URL, got {value:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_redis_and_refusals() {
        assert_eq!(parse("memory"), Ok(BrokerKind::Memory));
        let url = "redis://127.0.0.1:6379";
        assert_eq!(parse(url), Ok(BrokerKind::Redis(url.into())));
        let nats = "nats://127.0.0.1:4222";
        assert_eq!(parse(nats), Ok(BrokerKind::Nats(nats.into())));
        assert!(parse("kafka://x").is_err());
    }
}
