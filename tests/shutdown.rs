//! Graceful shutdown of the real `scgate` binary: SIGTERM closes every socket with 1001 and the
//! process exits 0; a second signal exits at once.

mod common;

use common::Client;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Starts `scgate serve` on a free port and waits for its READY line.
fn spawn(extra: &[&str]) -> (Child, SocketAddr) {
    let mut child = common::serve_command()
        .args(["--workers", "2"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scgate");
    let addr = common::ready_addr(child.stdout.take().unwrap());
    (child, addr)
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the process to exit, at most `within`.
async fn exited(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    None
}

#[tokio::test]
async fn sigterm_closes_every_socket_with_1001_stops_accepting_and_exits_zero() {
    for sig in ["TERM", "INT"] {
        let (mut child, addr) = spawn(&[]);
        let (mut a, _) = Client::connected(addr).await;
        let (mut b, _) = Client::connected(addr).await;
        signal(&child, sig);
        assert_eq!(a.closed().await, (1001, "Server is shutting down".into()));
        assert_eq!(b.closed().await.0, 1001);
        let status = exited(&mut child, Duration::from_secs(10))
            .await
            .expect("did not exit");
        assert_eq!(status.code(), Some(0), "SIG{sig}");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "still accepting after shutdown"
        );
    }
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let (mut child, addr) = spawn(&["--shutdown-grace-ms", "30000"]);
    // A client that never answers the close frame keeps the drain going for seconds.
    let (stuck, _) = Client::connected(addr).await;
    signal(&child, "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited before the drain finished"
    );
    signal(&child, "TERM");
    let status = exited(&mut child, Duration::from_secs(1))
        .await
        .expect("did not exit at once");
    assert_eq!(status.code(), Some(130));
    drop(stuck);
}
