//! The key-value store plugins share across all workers (`kv-get`, `kv-set`, `kv-delete`,
//! `kv-incr`), sharded by key so workers rarely contend. With `--broker redis://…` or `nats://…`
//! the keys live on that engine instead, shared by every node ([`RedisKv`], [`NatsKv`]); the
//! limits are checked here either way.

use crate::broker::memory::shard_index;
use crate::broker::nats::kv::{KvFailure, NatsKv};
use crate::broker::redis::kv::RedisKv;
use crate::config::BrokerKind;
use std::collections::HashMap;
use std::sync::Mutex;

/// Shards: enough that 64 workers rarely meet on one lock.
const SHARDS: usize = 64;
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// Most keys per shard (64 Ki keys × 64 shards ≈ 4 M keys): the store cannot grow without bound.
const MAX_KEYS_PER_SHARD: usize = 65_536;

/// Why a KV operation failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KvError {
    #[error("key longer than {MAX_KEY_BYTES} bytes")]
    KeyTooLong,
    #[error("value longer than {MAX_VALUE_BYTES} bytes")]
    ValueTooLong,
    #[error("the key-value store is full")]
    Full,
    #[error("the value at {0:?} is not an integer")]
    NotAnInteger(String),
    #[error("integer overflow")]
    Overflow,
    /// The engine that holds the keys (Redis) did not answer in time or refused the call.
    #[error("the key-value store is unavailable: {0}")]
    Unavailable(String),
}

/// Sorts a NATS failure into the error a plugin sees.
fn nats_error(key: &str, err: KvFailure) -> KvError {
    match err {
        KvFailure::NotAnInteger => KvError::NotAnInteger(key.to_owned()),
        KvFailure::Overflow => KvError::Overflow,
        KvFailure::Unavailable(text) => KvError::Unavailable(text),
    }
}

/// Where the keys live when a distributed broker is configured.
enum Engine {
    Redis(RedisKv),
    Nats(NatsKv),
}

/// Sorts a Redis failure into the error a plugin sees.
fn engine_error(key: &str, err: ::redis::RedisError) -> KvError {
    let text = err.to_string();
    if text.contains("not an integer") {
        KvError::NotAnInteger(key.to_owned())
    } else if text.contains("overflow") {
        KvError::Overflow
    } else {
        KvError::Unavailable(text)
    }
}

/// The store: in this process, or on the broker's engine.
pub struct Kv {
    // Each std Mutex guards one shard's map for a lookup or update only, never across an await.
    shards: Box<[Mutex<HashMap<String, String>>]>,
    // Where the keys live when a distributed broker is configured; the shards are then unused.
    engine: Option<Engine>,
}

impl Default for Kv {
    fn default() -> Self {
        Kv {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            engine: None,
        }
    }
}

impl Kv {
    /// The store for the `broker` setting: on Redis for a `redis://` broker, else in process.
    pub fn for_broker(broker: &str) -> anyhow::Result<Self> {
        match crate::config::broker_kind::parse(broker).map_err(anyhow::Error::msg)? {
            BrokerKind::Memory => Ok(Kv::default()),
            BrokerKind::Redis(url) => Ok(Kv {
                engine: Some(Engine::Redis(RedisKv::new(&url)?)),
                ..Kv::default()
            }),
            BrokerKind::Nats(url) => Ok(Kv {
                engine: Some(Engine::Nats(NatsKv::new(&url)?)),
                ..Kv::default()
            }),
        }
    }

    fn checked_key(key: &str) -> Result<(), KvError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(KvError::KeyTooLong);
        }
        Ok(())
    }

    fn shard(
        &self,
        key: &str,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, String>>, KvError> {
        Self::checked_key(key)?;
        let shard = &self.shards[shard_index(key, SHARDS)];
        Ok(shard.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        if let Some(engine) = &self.engine {
            Self::checked_key(key)?;
            return match engine {
                Engine::Redis(engine) => engine.get(key).map_err(|e| engine_error(key, e)),
                Engine::Nats(engine) => engine.get(key).map_err(|e| nats_error(key, e)),
            };
        }
        Ok(self.shard(key)?.get(key).cloned())
    }

    pub fn set(&self, key: &str, value: String) -> Result<(), KvError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(KvError::ValueTooLong);
        }
        if let Some(engine) = &self.engine {
            Self::checked_key(key)?;
            return match engine {
                Engine::Redis(engine) => engine.set(key, &value).map_err(|e| engine_error(key, e)),
                Engine::Nats(engine) => engine.set(key, value).map_err(|e| nats_error(key, e)),
            };
        }
        let mut shard = self.shard(key)?;
        if shard.len() >= MAX_KEYS_PER_SHARD && !shard.contains_key(key) {
            return Err(KvError::Full);
        }
        shard.insert(key.to_owned(), value);
        Ok(())
    }

    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        if let Some(engine) = &self.engine {
            Self::checked_key(key)?;
            return match engine {
                Engine::Redis(engine) => engine.delete(key).map_err(|e| engine_error(key, e)),
                Engine::Nats(engine) => engine.delete(key).map_err(|e| nats_error(key, e)),
            };
        }
        Ok(self.shard(key)?.remove(key).is_some())
    }

    /// Adds `by` to the integer at `key` (0 if absent) under the shard lock, or with Redis
    /// `INCRBY`: atomic either way.
    pub fn incr(&self, key: &str, by: i64) -> Result<i64, KvError> {
        if let Some(engine) = &self.engine {
            Self::checked_key(key)?;
            return match engine {
                Engine::Redis(engine) => engine.incr(key, by).map_err(|e| engine_error(key, e)),
                Engine::Nats(engine) => engine.incr(key, by).map_err(|e| nats_error(key, e)),
            };
        }
        let mut shard = self.shard(key)?;
        let current = match shard.get(key) {
            None => 0,
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| KvError::NotAnInteger(key.to_owned()))?,
        };
        let next = current.checked_add(by).ok_or(KvError::Overflow)?;
        if shard.len() >= MAX_KEYS_PER_SHARD && !shard.contains_key(key) {
            return Err(KvError::Full);
        }
        shard.insert(key.to_owned(), next.to_string());
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incr_counts_from_zero_and_refuses_non_integers() {
        let kv = Kv::default();
        assert_eq!(kv.incr("n", 2), Ok(2));
        assert_eq!(kv.incr("n", -5), Ok(-3));
        kv.set("s", "x".into()).unwrap();
        assert!(matches!(kv.incr("s", 1), Err(KvError::NotAnInteger(_))));
        assert_eq!(kv.delete("n"), Ok(true));
        assert_eq!(kv.get("n"), Ok(None));
    }
}
