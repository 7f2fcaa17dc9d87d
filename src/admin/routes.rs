//! The admin listener's routes: [`route`] is the one router function (see the module doc of
//! `admin` for how to add one), [`authorized`] the token check in front of it.

use super::AdminCtx;
use crate::http::{text, with_type, Body};
use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::time::Duration;

/// How long `/plugins` waits for the worker that answers it; a worker busy longer than this
/// gets a 503 instead of holding the admin connection.
const WORKER_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks `admin_token` (when set), then routes.
pub(super) async fn authorized(ctx: &AdminCtx, req: Request<Incoming>) -> Response<Body> {
    let token = ctx.settings.admin_token.as_bytes();
    if !token.is_empty() {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        if !given.is_some_and(|given| same_bytes(given, token)) {
            let mut response = text(StatusCode::UNAUTHORIZED, "Admin token required\n");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
    }
    route(ctx, req).await
}

/// The router: one arm per admin route.
async fn route(ctx: &AdminCtx, req: Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => health(ctx),
        (&Method::GET, "/metrics") => metrics(ctx),
        (&Method::GET, "/plugins") => plugins(ctx).await,
        _ => text(StatusCode::NOT_FOUND, "Not found\n"),
    }
}

/// `{"status":"ok", …every counter}`.
fn health(ctx: &AdminCtx) -> Response<Body> {
    let mut body = serde_json::Map::new();
    body.insert("status".into(), "ok".into());
    for (name, value) in ctx.metrics.snapshot() {
        body.insert(name.into(), value.into());
    }
    let body = serde_json::Value::Object(body).to_string();
    with_type(StatusCode::OK, body, "application/json")
}

/// The counters in Prometheus text format.
fn metrics(ctx: &AdminCtx) -> Response<Body> {
    let mut body = String::new();
    for (name, value) in ctx.metrics.snapshot() {
        // Only the open-socket count goes down; every other value is a running total.
        let kind = if name == "sockets_open" {
            "gauge"
        } else {
            "counter"
        };
        body.push_str(&format!(
            "# TYPE scgate_{name} {kind}\nscgate_{name} {value}\n"
        ));
    }
    with_type(StatusCode::OK, body, "text/plain; version=0.0.4")
}

/// The plugin status report; 404 when the gateway runs native hooks instead of plugins.
async fn plugins(ctx: &AdminCtx) -> Response<Body> {
    let answer = tokio::time::timeout(WORKER_ANSWER_TIMEOUT, ctx.gateway.plugins_status()).await;
    match answer {
        Ok(Ok(Some(status))) => with_type(StatusCode::OK, status.to_string(), "application/json"),
        Ok(Ok(None)) => text(
            StatusCode::NOT_FOUND,
            "This gateway runs no plugins (native hooks)\n",
        ),
        Ok(Err(_)) | Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "The workers did not answer in time\n",
        ),
    }
}

/// Compares in time that depends on the lengths only, not on where the bytes first differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn tokens_compare_by_every_byte() {
        assert!(same_bytes(b"secret", b"secret"));
        assert!(!same_bytes(b"secret", b"secreT"));
        assert!(!same_bytes(b"secret", b"secret2"));
        assert!(same_bytes(b"", b""));
    }
}
