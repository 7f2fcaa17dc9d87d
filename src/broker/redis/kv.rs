//! The plugin key-value store on Redis, so every node sees the same keys. Plugin host calls are
//! synchronous, so this uses blocking connections with short timeouts, taken from a small pool
//! (one per worker thread in use at once). `incr` is Redis `INCRBY`: atomic across nodes.

use ::redis::{Client, Connection, RedisResult};
use std::sync::Mutex;
use std::time::Duration;

/// Prefix of every key scgate stores, so other users of the same Redis are not disturbed.
pub const KEY_PREFIX: &str = "sc:kv:";
/// Longest one KV call may wait for Redis. A host call blocks its worker thread and is not
/// interrupted by the plugin deadline (100 ms by default), so this stays below it; a healthy
/// round trip takes well under a millisecond.
const CALL_TIMEOUT: Duration = Duration::from_millis(50);
/// Idle connections kept for reuse: one per worker thread is enough; more are closed.
const POOL_MAX: usize = 64;

/// A handle on the Redis that holds the shared keys.
pub struct RedisKv {
    client: Client,
    // Idle connections; the lock is held only to push or pop one, never during a call.
    idle: Mutex<Vec<Connection>>,
}

impl RedisKv {
    /// A store on the Redis at `url` (connections are opened on first use).
    pub fn new(url: &str) -> RedisResult<Self> {
        Ok(RedisKv {
            client: Client::open(url)?,
            idle: Mutex::default(),
        })
    }

    fn with<T>(&self, call: impl FnOnce(&mut Connection) -> RedisResult<T>) -> RedisResult<T> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => {
                let connection = self.client.get_connection_with_timeout(CALL_TIMEOUT)?;
                connection.set_read_timeout(Some(CALL_TIMEOUT))?;
                connection.set_write_timeout(Some(CALL_TIMEOUT))?;
                connection
            }
        };
        let result = call(&mut connection);
        // A connection whose call failed on I/O may hold half a reply: never reuse it.
        let broken = matches!(&result, Err(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped());
        if !broken {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL_MAX {
                idle.push(connection);
            }
        }
        result
    }

    pub fn get(&self, key: &str) -> RedisResult<Option<String>> {
        self.with(|c| ::redis::cmd("GET").arg(prefixed(key)).query(c))
    }

    pub fn set(&self, key: &str, value: &str) -> RedisResult<()> {
        self.with(|c| ::redis::cmd("SET").arg(prefixed(key)).arg(value).query(c))
    }

    pub fn delete(&self, key: &str) -> RedisResult<bool> {
        self.with(|c| {
            let removed: i64 = ::redis::cmd("DEL").arg(prefixed(key)).query(c)?;
            Ok(removed > 0)
        })
    }

    /// `INCRBY`: atomic on the server, whichever node calls it.
    pub fn incr(&self, key: &str, by: i64) -> RedisResult<i64> {
        self.with(|c| ::redis::cmd("INCRBY").arg(prefixed(key)).arg(by).query(c))
    }
}

fn prefixed(key: &str) -> String {
    format!("{KEY_PREFIX}{key}")
}
