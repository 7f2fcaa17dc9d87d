//! The plugin key-value store on NATS: a JetStream key-value bucket (`scgate`), so nats-server
//! must run with JetStream (`-js`). Plugin host calls are synchronous and async-nats is async
//! only, so one thread of its own runs the client; a call sends it a request and waits for the
//! answer at most [`CALL_TIMEOUT`]. `incr` is a compare-and-set loop on the key's revision:
//! atomic across nodes. Keys are stored base64url-encoded (KV keys allow few characters).

use crate::broker::engine::RECONNECT_INTERVAL;
use async_nats::jetstream::kv::{Operation, Store};
use async_nats::jetstream::stream::{Config as StreamConfig, DiscardPolicy};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OnceCell};

/// The bucket that holds every plugin key.
const BUCKET: &str = "scgate";
/// Longest one KV call may wait. A JetStream write takes about a millisecond, but an `incr`
/// racing other nodes may need several compare-and-set rounds on a loaded machine; a call
/// that waits longer than the plugin deadline (100 ms by default) costs that plugin call its
/// deadline, so this is a bound for the worst case, not a budget.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// Calls that may wait for the KV thread at once: far more than workers; a full queue answers
/// "unavailable" instead of growing.
const REQUESTS: usize = 1024;
/// Compare-and-set attempts of one `incr` before it gives up: each lost attempt means another
/// node's increment won, so this is only reached under extreme contention.
const CAS_ATTEMPTS: usize = 64;

/// Why a NATS KV call failed.
#[derive(Debug)]
pub enum KvFailure {
    NotAnInteger,
    Overflow,
    Unavailable(String),
}

enum Op {
    Get,
    Set(String),
    Delete,
    Incr(i64),
}

/// What a call answers.
pub enum Answer {
    Value(Option<String>),
    Done,
    Removed(bool),
    Number(i64),
}

struct Request {
    key: String,
    op: Op,
    reply: std::sync::mpsc::SyncSender<Result<Answer, KvFailure>>,
}

/// A handle on the JetStream bucket; its thread ends when the handle is dropped.
pub struct NatsKv {
    // To the KV thread; try_send only, so a caller never waits on a full queue.
    requests: mpsc::Sender<Request>,
}

impl NatsKv {
    /// A store on the NATS at `url`; connects on first use (and again after failures).
    pub fn new(url: &str) -> std::io::Result<Self> {
        let (requests, inbox) = mpsc::channel(REQUESTS);
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("scgate-nats-kv".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(serve(url, inbox));
                }
            })?;
        Ok(NatsKv { requests })
    }

    fn call(&self, key: &str, op: Op) -> Result<Answer, KvFailure> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let key = URL_SAFE_NO_PAD.encode(key);
        let request = Request { key, op, reply };
        if self.requests.try_send(request).is_err() {
            return Err(KvFailure::Unavailable("too many calls waiting".into()));
        }
        answer
            .recv_timeout(CALL_TIMEOUT)
            .unwrap_or_else(|_| Err(KvFailure::Unavailable("no answer in time".into())))
    }

    pub fn get(&self, key: &str) -> Result<Option<String>, KvFailure> {
        match self.call(key, Op::Get)? {
            Answer::Value(value) => Ok(value),
            _ => Err(KvFailure::Unavailable("unexpected answer".into())),
        }
    }

    pub fn set(&self, key: &str, value: String) -> Result<(), KvFailure> {
        self.call(key, Op::Set(value)).map(|_| ())
    }

    pub fn delete(&self, key: &str) -> Result<bool, KvFailure> {
        match self.call(key, Op::Delete)? {
            Answer::Removed(removed) => Ok(removed),
            _ => Err(KvFailure::Unavailable("unexpected answer".into())),
        }
    }

    pub fn incr(&self, key: &str, by: i64) -> Result<i64, KvFailure> {
        match self.call(key, Op::Incr(by))? {
            Answer::Number(n) => Ok(n),
            _ => Err(KvFailure::Unavailable("unexpected answer".into())),
        }
    }
}

/// The KV thread: opens the bucket when needed and runs each call as its own task.
async fn serve(url: String, mut inbox: mpsc::Receiver<Request>) {
    // The bucket, opened once; a failed open is retried by the next call.
    let store: Arc<OnceCell<Store>> = Arc::new(OnceCell::new());
    // Opened at once, so the bucket is ready before the first plugin call in most cases.
    let eager = store.clone();
    let eager_url = url.clone();
    tokio::spawn(async move {
        let _ = eager.get_or_try_init(|| open(&eager_url)).await;
    });
    // One `incr` of this node at a time: this node's workers would otherwise mostly defeat each
    // other's compare-and-set; with it only other nodes can, and each round makes progress.
    let incr_turn = Arc::new(tokio::sync::Mutex::new(()));
    while let Some(request) = inbox.recv().await {
        let store = store.clone();
        let url = url.clone();
        let incr_turn = incr_turn.clone();
        tokio::spawn(async move {
            let answer = match store.get_or_try_init(|| open(&url)).await {
                Ok(store) => {
                    let _turn = match request.op {
                        Op::Incr(_) => Some(incr_turn.lock().await),
                        _ => None,
                    };
                    run(store, &request.key, request.op).await
                }
                Err(err) => Err(KvFailure::Unavailable(err)),
            };
            let _ = request.reply.send(answer);
        });
    }
}

async fn open(url: &str) -> Result<Store, String> {
    let connect = super::options().connect(url);
    let client = tokio::time::timeout(RECONNECT_INTERVAL * 10, connect)
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let jetstream = async_nats::jetstream::new(client);
    if let Ok(store) = jetstream.get_key_value(BUCKET).await {
        return Ok(store);
    }
    // The bucket's stream, as async-nats's `create_key_value` would make it; made directly
    // because that call first reads account details that nats-server 2.9 (Debian's) answers in
    // a shape async-nats 0.51 does not parse.
    let config = StreamConfig {
        name: format!("KV_{BUCKET}"),
        subjects: vec![format!("$KV.{BUCKET}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..StreamConfig::default()
    };
    let hint = "JetStream key-value bucket (is nats-server run with -js?)";
    jetstream
        .get_or_create_stream(config)
        .await
        .map_err(|e| format!("{hint}: {e}"))?;
    jetstream
        .get_key_value(BUCKET)
        .await
        .map_err(|e| format!("{hint}: {e}"))
}

fn unavailable(err: impl std::fmt::Display) -> KvFailure {
    KvFailure::Unavailable(err.to_string())
}

async fn run(store: &Store, key: &str, op: Op) -> Result<Answer, KvFailure> {
    match op {
        Op::Get => {
            let value = store.get(key).await.map_err(unavailable)?;
            Ok(Answer::Value(
                value.map(|v| String::from_utf8_lossy(&v).into_owned()),
            ))
        }
        Op::Set(value) => {
            store.put(key, value.into()).await.map_err(unavailable)?;
            Ok(Answer::Done)
        }
        Op::Delete => {
            let existed = store.get(key).await.map_err(unavailable)?.is_some();
            if existed {
                store.delete(key).await.map_err(unavailable)?;
            }
            Ok(Answer::Removed(existed))
        }
        Op::Incr(by) => incr(store, key, by).await.map(Answer::Number),
    }
}

/// Reads the value and its revision, writes value + `by` only if the revision is unchanged,
/// and tries again when another writer came first.
async fn incr(store: &Store, key: &str, by: i64) -> Result<i64, KvFailure> {
    for _ in 0..CAS_ATTEMPTS {
        let entry = store.entry(key).await.map_err(unavailable)?;
        let (current, revision) = match entry {
            Some(entry) if entry.operation == Operation::Put => {
                let text = String::from_utf8_lossy(&entry.value);
                let n = text.parse::<i64>().map_err(|_| KvFailure::NotAnInteger)?;
                (n, entry.revision)
            }
            Some(entry) => (0, entry.revision),
            None => (0, 0),
        };
        let next = current.checked_add(by).ok_or(KvFailure::Overflow)?;
        let value = next.to_string().into();
        let written = if revision == 0 {
            store.create(key, value).await.is_ok()
        } else {
            store.update(key, value, revision).await.is_ok()
        };
        if written {
            return Ok(next);
        }
    }
    Err(KvFailure::Unavailable("too much contention".into()))
}
