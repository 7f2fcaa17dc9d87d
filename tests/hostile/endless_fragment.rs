//! Item 3: a fragmented message that never ends. Pings count as liveness, so a socket that kept
//! a fragment open and sent only pings was never timed out, holding up to `max_message_bytes`
//! each. A message must now be complete within `ping_timeout_ms` of its first fragment, and
//! `max_buffered_bytes` bounds what all sockets together hold in partial messages and output:
//! past it the largest holders are closed (1009 for a message being read) and counted.

use crate::common::{settings, start};
use crate::raw::{frame, Raw, FIN, PING, TEXT};
use scgate::config::Settings;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_fragment_kept_open_with_pings_is_closed_at_the_ping_timeout() {
    let server = start(Settings {
        workers: 1,
        ..settings()
    });
    let mut raw = Raw::handshaken(server.local_addr()).await;
    let started = Instant::now();
    raw.send(&frame(TEXT, &[b'x'; 100 * 1024])).await;
    // A ping every 300 ms: liveness for the heartbeat, never the end of the message.
    let closed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a message open for 10 s with a 3 s ping timeout"
        );
        raw.send(&frame(FIN | PING, b"still here")).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Ok(Some(next)) = tokio::time::timeout(Duration::from_millis(10), raw.next()).await {
            if next.0 == 0x8 {
                break next.1;
            }
        }
    };
    let code = u16::from_be_bytes([closed[0], closed[1]]);
    assert_eq!(code, 1008, "{}", String::from_utf8_lossy(&closed[2..]));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(2_500), "{elapsed:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn past_max_buffered_bytes_the_largest_partial_messages_are_closed_with_1009() {
    let server = start(Settings {
        workers: 2,
        max_buffered_bytes: 1024 * 1024,
        ..settings()
    });
    let addr = server.local_addr();
    let mut sockets = Vec::new();
    // Six sockets each hold a 300 KB fragment: 1.8 MB together, over the 1 MB budget.
    for _ in 0..6 {
        let mut raw = Raw::handshaken(addr).await;
        raw.send(&frame(TEXT, &[b'x'; 300 * 1024])).await;
        sockets.push(raw);
    }
    let mut closed = 0;
    let mut open = 0;
    for raw in &mut sockets {
        raw.send(&frame(FIN | PING, b"?")).await;
        // A pong, or the close (after `#disconnect` for a socket whose protocol is not known).
        loop {
            match tokio::time::timeout(Duration::from_secs(2), raw.next()).await {
                Ok(Some((0x8, payload))) => {
                    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1009);
                    closed += 1;
                }
                Ok(Some((0xA, _))) => open += 1,
                Ok(Some((0x1, text))) if text.starts_with(br##"{"event":"#disconnect""##) => {
                    continue
                }
                other => panic!("neither a pong nor a close: {other:?}"),
            }
            break;
        }
    }
    assert!(
        closed >= 2,
        "1.8 MB held under a 1 MB budget ({closed} closed)"
    );
    assert!(open >= 1, "more sockets closed than the budget needed");
    let evictions = server.gateway().metrics().buffer_evictions.load(Relaxed);
    assert_eq!(evictions, closed as u64);
    server.shutdown().await;
}
