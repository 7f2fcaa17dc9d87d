//! HTTP on the gateway's public port: the WebSocket upgrade on the SocketCluster path (HTTP 400
//! for an upgrade anywhere else; the checks of `http_guard`), a minimal `/health` liveness
//! answer, `/status/plugins` (the plugin report without paths, when made public), and static
//! files from the public folder. Counters, metrics and the full plugin report are on the admin
//! listener (`admin`).

use crate::connection;
use crate::connection::ws::{self, WsSocket};
use crate::hooks::{self, Actions, UpgradeRequest, Verdict};
use crate::http_guard;
use crate::server::ConnectionPermit;
use crate::worker::WorkerCtx;
use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tower::ServiceExt;
use tower_http::services::ServeDir;

pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Time a plain HTTP connection gets to finish its response once shutdown starts.
const HTTP_DRAIN: Duration = Duration::from_secs(1);

/// Serves one TCP connection: HTTP/1.1 requests until it upgrades to a WebSocket or closes.
pub(crate) async fn serve_connection(
    ctx: Rc<WorkerCtx>,
    stream: TcpStream,
    permit: ConnectionPermit,
) {
    // The permit counts this connection against the connection limits until the last holder —
    // the HTTP connection or the WebSocket it became — is gone.
    let permit = Rc::new(permit);
    let service_ctx = ctx.clone();
    let service = service_fn(move |req| route(service_ctx.clone(), permit.clone(), req));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(ctx.settings.upgrade_timeout_ms))
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!("http connection: {err}");
            }
        }
        _ = ctx.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(HTTP_DRAIN, conn).await;
        }
    }
}

async fn route(
    ctx: Rc<WorkerCtx>,
    permit: Rc<ConnectionPermit>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if is_upgrade(&req) {
        if req.uri().path() != ctx.settings.path {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                "Unsupported WebSocket path\n",
            ));
        }
        if req.method() != http::Method::GET {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                "A WebSocket upgrade must be a GET\n",
            ));
        }
        let origin = req.headers().get(header::ORIGIN);
        if !http_guard::origin_allowed(&ctx.settings.origins, origin) {
            let origin = origin.and_then(|o| o.to_str().ok()).unwrap_or("none");
            tracing::debug!(origin, "upgrade refused: origin not in `origins`");
            // SocketCluster's answer and wording for a refused origin.
            let body = format!("Failed to authorize socket handshake - Invalid origin: {origin}\n");
            return Ok(with_type(
                StatusCode::FORBIDDEN,
                body,
                "text/plain; charset=utf-8",
            ));
        }
        return Ok(upgrade(ctx, permit, req));
    }
    Ok(match req.uri().path() {
        "/health" => liveness(),
        "/status/plugins" => public_plugins(&ctx),
        _ => static_file(&ctx, req).await,
    })
}

fn is_upgrade<B>(req: &Request<B>) -> bool {
    let has = |name, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "websocket")
}

fn upgrade(
    ctx: Rc<WorkerCtx>,
    permit: Rc<ConnectionPermit>,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let headers = req.headers();
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return text(StatusCode::BAD_REQUEST, "Unsupported WebSocket version\n");
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return text(StatusCode::BAD_REQUEST, "Missing Sec-WebSocket-Key\n");
    };
    if !http_guard::valid_key(key) {
        return text(StatusCode::BAD_REQUEST, "Malformed Sec-WebSocket-Key\n");
    }
    let accept = derive_accept_key(key.as_bytes());
    // Clients send no subprotocol; if one is offered, echo the first, as the reference server does.
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|p| p.trim().to_owned());
    let query = req.uri().query().unwrap_or("").to_owned();
    let request = UpgradeRequest {
        path: req.uri().path(),
        query: &query,
        headers: req.headers(),
    };
    let mut actions = Actions::default();
    let verdict = ctx.hooks.handshake_ws(&request, &mut actions);
    if !actions.0.is_empty() {
        tokio::task::spawn_local(hooks::apply_detached(ctx.gateway.clone(), actions));
    }
    if matches!(verdict, Verdict::Block(_) | Verdict::BlockSilently) {
        // As the reference servers do: the client sees a failed upgrade and retries with backoff.
        return text(StatusCode::UNAUTHORIZED, "WebSocket handshake rejected\n");
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let task_ctx = ctx.clone();
    let task = async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => return tracing::debug!("upgrade failed: {err}"),
        };
        let Some(ws) = ws_socket(upgraded, &task_ctx.settings) else {
            return tracing::error!("upgraded connection is not a TCP stream");
        };
        connection::run(task_ctx, ws, &query).await;
        drop(permit);
    };
    tokio::task::spawn_local(ctx.tasks.track_future(task));
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(protocol) = protocol {
        response = response.header(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response
        .body(empty())
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, ""))
}

/// The WebSocket on the stream hyper was given (a `TcpStream`), with any bytes hyper read past
/// the request. A function of its own so that hyper's read buffer is dropped here, not held by
/// the socket's task for the socket's whole life.
fn ws_socket(
    upgraded: hyper::upgrade::Upgraded,
    settings: &crate::config::Settings,
) -> Option<WsSocket> {
    let parts = upgraded.downcast::<TokioIo<TcpStream>>().ok()?;
    Some(WsSocket::new(
        parts.io.into_inner(),
        &parts.read_buf,
        ws_limits(settings),
    ))
}

/// The socket's sizes from the settings.
pub(crate) fn ws_limits(settings: &crate::config::Settings) -> ws::Limits {
    ws::Limits {
        max_message: settings.max_message_bytes,
        read_chunk: settings.read_buffer_bytes,
        write_chunk: settings.write_buffer_bytes,
        // A message must be complete within the heartbeat's timeout of its first fragment.
        message_time: Duration::from_millis(settings.ping_timeout_ms),
    }
}

/// The public liveness answer: the process is up and accepting. Nothing else is shown here;
/// the counters are on the admin listener's `/health`.
fn liveness() -> Response<Body> {
    with_type(
        StatusCode::OK,
        r#"{"status":"ok"}"#.to_owned(),
        "application/json",
    )
}

/// The plugin status for pages served to clients (`public_plugin_status`, or dev mode), without
/// file paths; 404 when neither is on or the gateway runs no plugins.
fn public_plugins(ctx: &WorkerCtx) -> Response<Body> {
    let settings = &ctx.settings;
    let report = (settings.public_plugin_status || settings.dev)
        .then(|| ctx.hooks.plugins_status())
        .flatten();
    let Some(report) = report else {
        return text(StatusCode::NOT_FOUND, "Not found\n");
    };
    let body = crate::plugin::status::public(&report, settings.dev).to_string();
    let mut response = with_type(StatusCode::OK, body, "application/json");
    // Pages poll it for live counters: never answer from a cache.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn static_file(ctx: &WorkerCtx, req: Request<Incoming>) -> Response<Body> {
    let settings = &ctx.settings;
    let dir = &settings.public_dir;
    let allowed = || {
        let (dotfiles, links) = (settings.public_dotfiles, settings.public_outside_links);
        http_guard::static_allowed(Path::new(dir), req.uri().path(), dotfiles, links)
    };
    if dir.is_empty() || !allowed() {
        return text(StatusCode::NOT_FOUND, "Not found\n");
    }
    match ServeDir::new(dir).oneshot(req).await {
        Ok(response) => response.map(|body| body.map_err(std::io::Error::other).boxed_unsync()),
        Err(never) => match never {},
    }
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    with_type(status, body.to_owned(), "text/plain; charset=utf-8")
}

pub(crate) fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
