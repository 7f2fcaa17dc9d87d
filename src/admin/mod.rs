//! The admin listener: a second HTTP port, on loopback by default, for what only operators and
//! backends may see or do — `/health` with every counter, `/metrics`, `/plugins`. The public
//! port keeps only a minimal liveness answer (`GET /health` → `{"status":"ok"}`).
//!
//! It runs on a thread of its own with its own connection limit, so it still answers when every
//! public connection slot is taken or a worker is busy. With `admin_token` set, every request
//! must carry `Authorization: Bearer TOKEN` (checked here, before any route runs).
//!
//! **Adding a route:** add an arm to [`routes::route`], the one router function, and write its
//! handler in `routes.rs` (or, for a family of routes such as an API, in a file of its own under
//! `src/admin/` that `route` delegates to). The handler gets the [`AdminCtx`]: the settings,
//! the counters and the [`Gateway`] (publish, transmit, kick out, disconnect). Token checking,
//! the connection limit and timeouts apply to every route without further code.

mod routes;

use crate::config::Settings;
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Simultaneous admin connections: scrapers and operators are few, and the bound keeps a local
/// flood of connections from holding more than this many.
const MAX_CONNECTIONS: usize = 64;
/// Pause after a failed accept (typically EMFILE), so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// What every admin route can use. Shared by the admin thread's connections (`Arc`).
pub(crate) struct AdminCtx {
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub gateway: Gateway,
}

/// Starts the admin thread serving `listener` until `shutdown`; it returns when it has stopped.
pub(crate) fn spawn(
    listener: std::net::TcpListener,
    ctx: AdminCtx,
    shutdown: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("scgate-admin".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else {
                tracing::error!("cannot start the admin runtime");
                return shutdown.cancel();
            };
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => accept(listener, Arc::new(ctx), shutdown).await,
                    Err(err) => {
                        tracing::error!("cannot register the admin listener: {err}");
                        shutdown.cancel();
                    }
                }
            });
        })
}

/// Accepts admin connections until shutdown; connections past [`MAX_CONNECTIONS`] are closed
/// at once. Connections still open at shutdown are dropped with the thread's runtime.
async fn accept(listener: TcpListener, ctx: Arc<AdminCtx>, shutdown: CancellationToken) {
    // One permit per open admin connection, moved into its task and released when it ends.
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!("admin accept failed: {err}");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::debug!("admin connection refused: {MAX_CONNECTIONS} already open");
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            serve_connection(ctx, stream).await;
            drop(permit);
        });
    }
}

/// Serves HTTP/1.1 requests on one admin connection until it closes.
async fn serve_connection(ctx: Arc<AdminCtx>, stream: tokio::net::TcpStream) {
    let timeout = Duration::from_millis(ctx.settings.upgrade_timeout_ms);
    let service = service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, std::convert::Infallible>(routes::authorized(&ctx, req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(err) = conn.await {
        tracing::debug!("admin connection: {err}");
    }
}
