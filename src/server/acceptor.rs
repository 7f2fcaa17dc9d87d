//! The acceptor: takes TCP connections off the listener, applies the per-address limits
//! ([`super::per_ip`]) and `max_connections`, and hands them to the workers in turn.

use super::per_ip::{IpSlot, PerIp};
use crate::metrics::Metrics;
use crate::worker::Accepted;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Pause after a failed accept (typically EMFILE: out of file descriptors), so the loop does not
/// spin while connections close and free descriptors.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// Time a refused client gets to read its 503 (and the server to drain its request) before the
/// socket is dropped; bounds what a refused connection can hold.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);

const REFUSAL: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const TOO_MANY: &[u8] =
    b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What keeps an accepted connection counted: its `max_connections` slot and its address's
/// place in `max_connections_per_ip`; both are given back when the last holder (the HTTP
/// connection or the WebSocket it became) drops it.
pub(crate) struct ConnectionPermit {
    _slot: OwnedSemaphorePermit,
    _ip: Option<IpSlot>,
}

/// Accepts until shutdown.
pub(crate) async fn run(
    listener: TcpListener,
    workers: Vec<mpsc::Sender<Accepted>>,
    // One permit per allowed connection; each accepted connection owns one until it closes.
    limit: Arc<Semaphore>,
    mut per_ip: PerIp,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let ip = match per_ip.admit(peer.ip(), Instant::now()) {
            Ok(ip) => ip,
            Err(why) => {
                tracing::debug!(%peer, ?why, "connection refused");
                Metrics::inc(&metrics.connections_refused_per_ip);
                // No graceful close for an address over its limits: one try to write the
                // answer, and the socket is dropped at once, so a flood of refused connections
                // holds no task and no descriptor.
                let _ = stream.try_write(TOO_MANY);
                continue;
            }
        };
        let Ok(slot) = limit.clone().try_acquire_owned() else {
            Metrics::inc(&metrics.connections_refused);
            tokio::spawn(refuse(stream));
            continue;
        };
        let permit = ConnectionPermit {
            _slot: slot,
            _ip: ip,
        };
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        // Round robin; a worker whose queue is full makes the acceptor wait (backpressure).
        if workers[next].send((stream, permit)).await.is_err() {
            break;
        }
        next = (next + 1) % workers.len();
    }
}

/// Answers 503 and closes gracefully: half-close, then read and discard what the client still
/// sends (its request) until it closes. Dropping a socket with unread data would reset it, and a
/// reset can destroy the 503 before the client reads it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSE_TIMEOUT, async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}
