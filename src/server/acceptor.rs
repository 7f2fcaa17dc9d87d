//! The acceptor: takes TCP connections off the listener, counts them against
//! `max_connections`, and hands them to the workers in turn.

use crate::metrics::Metrics;
use crate::worker::Accepted;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

/// Pause after a failed accept (typically EMFILE: out of file descriptors), so the loop does not
/// spin while connections close and free descriptors.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// Time a refused client gets to read its 503 (and the server to drain its request) before the
/// socket is dropped; bounds what a refused connection can hold.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);

const REFUSAL: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Accepts until shutdown.
pub(crate) async fn run(
    listener: TcpListener,
    workers: Vec<mpsc::Sender<Accepted>>,
    // One permit per allowed connection; each accepted connection owns one until it closes.
    limit: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            Metrics::inc(&metrics.connections_refused);
            tokio::spawn(refuse(stream));
            continue;
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
