//! SIGINT and SIGTERM: the first starts a graceful shutdown, a second exits at once. SIGHUP:
//! reload (what, the caller decides), as many times as it comes.

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Exit status after a second signal (SIGINT or SIGTERM): 128 + SIGINT, the shell convention for
/// "interrupted by the user", since the drain was cut short on purpose.
const FORCED_EXIT_CODE: i32 = 130;

/// Blocks until SIGINT or SIGTERM arrives or `shutdown` is cancelled elsewhere, calling
/// `on_hangup` for each SIGHUP meanwhile; then cancels `shutdown` and leaves a thread behind
/// that exits the process on a second SIGINT or SIGTERM.
pub(super) fn wait_for_shutdown(
    shutdown: CancellationToken,
    on_hangup: &mut dyn FnMut(),
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut term = runtime.block_on(async { signal(SignalKind::terminate()) })?;
    let mut int = runtime.block_on(async { signal(SignalKind::interrupt()) })?;
    let mut hup = runtime.block_on(async { signal(SignalKind::hangup()) })?;
    runtime.block_on(async {
        loop {
            tokio::select! {
                _ = term.recv() => break tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => break tracing::info!("SIGINT: shutting down"),
                _ = shutdown.cancelled() => break,
                _ = hup.recv() => on_hangup(),
            }
        }
    });
    shutdown.cancel();
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        tracing::warn!("second signal: exiting now");
        std::process::exit(FORCED_EXIT_CODE);
    });
    Ok(())
}
