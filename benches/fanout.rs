//! Broker fan-out to N sockets: a real gateway on `127.0.0.1:0`, N real WebSocket clients that
//! handshake and `#subscribe` to one channel, and one more client that publishes. One iteration
//! is one `#publish` frame sent until every subscriber has read its delivery: the publisher's
//! socket, the broker shard, the worker inbox, N outboxes and N socket writes, end to end.
//!
//! The clients run in this process, on the same cores as the gateway, so the time includes N
//! client reads: compare it between versions of the gateway on one machine, not as server CPU
//! (`bench/run.py` measures that). `cargo bench --bench fanout -- --warm-up-time 1
//! --measurement-time 3` runs it in about half a minute.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use futures_util::{SinkExt, StreamExt};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use scgate::config::{ProtocolMode, Settings};
use scgate::ServerHandle;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Subscriber counts: a small room and a large one, as the load scenarios use.
const SUBSCRIBERS: &[usize] = &[100, 1000];
/// Gateway worker threads: one (every socket on one worker), and two (the broker hands each
/// message to both workers' inboxes).
const WORKERS: &[usize] = &[1, 2];
/// The channel every subscriber joins.
const CHANNEL: &str = "fanout";
/// What the publisher sends: a small payload like the load generator's, without a `cid` so the
/// publisher has no ack to read and the iteration ends at the last subscriber.
const PUBLISH: &str = r##"{"event":"#publish","data":{"channel":"fanout","data":{"t":1732600000000000,"p":"xxxxxxxxxxxxxxxx"}}}"##;
/// How a delivery frame starts (`encode::publish`); anything else a subscriber reads is a ping.
const DELIVERY_PREFIX: &str = r##"{"event":"#publish""##;
/// Connects and handshakes in flight at once: below the listener's backlog of 128, so no SYN is
/// dropped and retried a second later.
const CONNECT_CONCURRENCY: usize = 100;
/// Bound on any single wait (a connect, a reply, one fan-out): a fan-out to 1000 local sockets
/// takes milliseconds, so reaching it means the gateway lost a message or hung.
const STEP: Duration = Duration::from_secs(10);
/// Open files per subscriber in this process: its client socket and the gateway's end of it.
const FILES_PER_SUBSCRIBER: u64 = 2;
/// Open files besides the sockets: the listener, epoll and event fds of both runtimes, stdio,
/// criterion's output files.
const SPARE_FILES: u64 = 256;

/// A gateway with `n` subscribed clients and a publisher, on the bench's tokio runtime.
struct Fanout {
    server: ServerHandle,
    publisher: Ws,
    subscribers: usize,
    /// Deliveries still expected for the message in flight: set by the publisher, counted down
    /// by each subscriber task.
    remaining: Arc<AtomicUsize>,
    /// Notified by the subscriber task that reads the last delivery; `notify_one` keeps the
    /// permit when it fires before the publisher waits.
    done: Arc<Notify>,
}

impl Fanout {
    async fn start(workers: usize, subscribers: usize) -> Fanout {
        let server = start_gateway(workers);
        let addr = server.local_addr();
        let remaining = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(Notify::new());
        let mut clients = futures_util::stream::iter(0..subscribers)
            .map(|_| subscribed(addr))
            .buffer_unordered(CONNECT_CONCURRENCY);
        while let Some(ws) = clients.next().await {
            tokio::spawn(count_deliveries(ws, remaining.clone(), done.clone()));
        }
        let publisher = connected(addr).await;
        let mut fanout = Fanout {
            server,
            publisher,
            subscribers,
            remaining,
            done,
        };
        // Every subscriber has its ack; one message through proves each is in the channel table.
        fanout.publish_once().await;
        fanout
    }

    /// Publishes one message and waits until every subscriber has read it.
    async fn publish_once(&mut self) -> Duration {
        self.remaining.store(self.subscribers, Ordering::Release);
        let start = Instant::now();
        send(&mut self.publisher, PUBLISH).await;
        tokio::time::timeout(STEP, self.done.notified())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} of {} subscribers got no delivery in {STEP:?}",
                    self.remaining.load(Ordering::Acquire),
                    self.subscribers
                )
            });
        start.elapsed()
    }
}

/// A gateway without application hooks: `#subscribe` and `#publish` are served natively.
fn start_gateway(workers: usize) -> ServerHandle {
    let settings = Settings {
        host: "127.0.0.1".into(),
        port: 0,
        workers,
        public_dir: String::new(),
        protocol: ProtocolMode::V1,
        // Pings every minute, a socket dropped after two silent minutes: no heartbeat frames
        // inside the measurement, and idle subscribers outlive the longest criterion run.
        ping_interval_ms: 60_000,
        ping_timeout_ms: 120_000,
        // The clients have closed by the time the gateway stops; this only bounds a stuck one.
        shutdown_grace_ms: 1_000,
        // Every subscriber comes from loopback, thousands at a time.
        max_connections_per_ip: 0,
        accept_rate_per_ip: 0,
        ..Settings::default()
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    scgate::start(settings, listener, scgate::hooks::no_hooks()).expect("start the gateway")
}

/// A handshaken client.
async fn connected(addr: SocketAddr) -> Ws {
    let url = format!("ws://{addr}/socketcluster/");
    let (mut ws, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
        .expect("connect");
    send(&mut ws, r##"{"event":"#handshake","data":{},"cid":1}"##).await;
    reply(&mut ws, 1).await;
    ws
}

/// A handshaken client subscribed to [`CHANNEL`].
async fn subscribed(addr: SocketAddr) -> Ws {
    let mut ws = connected(addr).await;
    let subscribe =
        format!(r##"{{"event":"#subscribe","data":{{"channel":"{CHANNEL}"}},"cid":2}}"##);
    send(&mut ws, &subscribe).await;
    reply(&mut ws, 2).await;
    ws
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.expect("send");
}

/// Waits for the reply to `cid`; panics on an error reply.
async fn reply(ws: &mut Ws, cid: u64) {
    loop {
        let message = tokio::time::timeout(STEP, ws.next())
            .await
            .expect("no reply in time")
            .expect("connection closed before the reply")
            .expect("read");
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(reply) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if reply["rid"] == cid {
            assert!(reply.get("error").is_none(), "cid {cid} failed: {reply}");
            return;
        }
    }
}

/// A subscriber: counts each delivery down, answers pings, ends when its socket closes.
async fn count_deliveries(mut ws: Ws, remaining: Arc<AtomicUsize>, done: Arc<Notify>) {
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        if text.starts_with(DELIVERY_PREFIX) {
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                done.notify_one();
            }
        } else if text.as_str() == "#1" && ws.send(Message::text("#2")).await.is_err() {
            return;
        }
    }
}

/// Raises the soft open-file limit towards `needed` (up to the hard limit); returns the limit
/// now in force.
fn raise_file_limit(needed: u64) -> u64 {
    let limit = getrlimit(Resource::Nofile);
    // `None` is RLIM_INFINITY.
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= needed {
        return current;
    }
    let wanted = limit.maximum.map_or(needed, |max| max.min(needed));
    let raised = Rlimit {
        current: Some(wanted),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => wanted,
        Err(err) => {
            eprintln!("could not raise the open-file limit from {current}: {err}");
            current
        }
    }
}

fn bench(c: &mut Criterion) {
    let largest = SUBSCRIBERS.iter().copied().max().unwrap_or(0) as u64;
    let files = raise_file_limit(largest * FILES_PER_SUBSCRIBER + SPARE_FILES);
    // The clients' runtime: one worker thread, so subscriber tasks answer pings between
    // samples too; the gateway's worker threads are its own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    let mut group = c.benchmark_group("fanout");
    // An iteration takes milliseconds: run each sample's iterations once, not in a ramp.
    group.sampling_mode(SamplingMode::Flat);
    for &workers in WORKERS {
        for &subscribers in SUBSCRIBERS {
            if subscribers as u64 * FILES_PER_SUBSCRIBER + SPARE_FILES > files {
                eprintln!("skipping {subscribers} subscribers: the open-file limit is {files}");
                continue;
            }
            let mut fanout = runtime.block_on(Fanout::start(workers, subscribers));
            group.throughput(Throughput::Elements(subscribers as u64));
            let id = BenchmarkId::new(format!("workers_{workers}"), subscribers);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += fanout.publish_once().await;
                        }
                        total
                    })
                })
            });
            let Fanout {
                server, publisher, ..
            } = fanout;
            drop(publisher);
            server.stop();
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
