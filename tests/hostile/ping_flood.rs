//! Item 1: a ping flood to a socket that never reads. Each ping used to queue a pong in the
//! write buffer without limit while the socket kept reading; now at most one pong waits (the
//! latest ping's, as RFC 6455 allows), and a socket whose writes are stuck is not read from.

use crate::common::{settings, start};
use crate::raw::{frame, Raw, FIN, PING};
use scgate::config::Settings;
use std::time::{Duration, Instant};

/// Pings sent in one write: about 1 MB of 131-byte frames.
const PINGS_PER_WRITE: usize = 8_000;
/// The most the flood may write; the gateway used to take all of it.
const FLOOD_BYTES: usize = 96 * 1024 * 1024;

#[tokio::test]
async fn a_ping_flood_from_a_client_that_never_reads_is_neither_buffered_nor_kept() {
    let server = start(Settings {
        workers: 1,
        ..settings()
    });
    let mut raw = Raw::handshaken(server.local_addr()).await;
    let batch = frame(FIN | PING, &[0x55; 125]).repeat(PINGS_PER_WRITE);
    let mut sent = 0;
    // The gateway reads as long as it can write; once its pongs fill the socket buffers of
    // both ends (this client never reads), it must stop reading, and the flood stalls.
    while sent < FLOOD_BYTES && raw.try_send(&batch, Duration::from_secs(2)).await {
        sent += batch.len();
    }
    eprintln!("the gateway took {} MB of pings", sent / (1024 * 1024));

    assert!(
        sent < FLOOD_BYTES / 2,
        "the gateway kept reading pings it could not answer: {sent} bytes taken"
    );
    // A socket that neither reads nor completes anything is closed at the ping timeout (3 s in
    // tests) and dropped after the close linger, whatever it has queued.
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while raw.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the socket was kept open");
    eprintln!(
        "the connection ended {:?} after the flood",
        started.elapsed()
    );
    server.shutdown().await;
}
