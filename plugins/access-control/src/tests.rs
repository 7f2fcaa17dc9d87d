//! Tests of the rules, run natively: `cargo test --target x86_64-unknown-linux-gnu` (no stage
//! calls a host import). They see the default config, since no test calls `init`.

use super::*;

fn socket(query: &str, auth_token: Option<&str>) -> Socket {
    Socket {
        id: "s1".to_string(),
        query: query.to_string(),
        auth_token: auth_token.map(str::to_string),
    }
}

/// The blocked error's name, message and extra, or `None` for any other verdict.
fn blocked(verdict: Verdict) -> Option<(String, String, Option<String>)> {
    match verdict {
        Verdict::Block(e) => Some((e.name, e.message, e.extra)),
        _ => None,
    }
}

fn request(query: &str) -> HttpRequest {
    HttpRequest {
        path: "/socketcluster/".to_string(),
        query: query.to_string(),
        headers: vec![],
    }
}

#[test]
fn config_defaults_and_overrides() {
    let cfg: Config = serde_json::from_str(r#"{"forbidden":["a","b"],"path":"x.wasm"}"#).unwrap();
    assert_eq!(cfg.forbidden, ["a", "b"]);
    assert_eq!(cfg.protected_prefix, "private/");
    assert!(serde_json::from_str::<Config>(r#"{"forbidden":"a"}"#).is_err());
}

#[test]
fn query_params_match_whole_names() {
    assert_eq!(query_param("a=1&rejectws=1", "rejectws"), Some("1"));
    assert_eq!(query_param("xrejectws=1", "rejectws"), None);
    assert_eq!(query_param("flag&b=2", "flag"), Some(""));
}

#[test]
fn handshakes() {
    assert!(matches!(
        AccessControl::handshake_ws(request("a=1")),
        Verdict::Allow
    ));
    let (name, message, _) = blocked(AccessControl::handshake_ws(request("rejectws=1"))).unwrap();
    assert_eq!(
        (name.as_str(), message.as_str()),
        ("HandshakeWsRejectedError", "WS handshake rejected")
    );

    assert!(matches!(
        AccessControl::handshake_sc(socket("", None), None),
        Verdict::Allow
    ));
    let (name, _, extra) = blocked(AccessControl::handshake_sc(
        socket("rejectsc=1", None),
        None,
    ))
    .unwrap();
    assert_eq!((name.as_str(), extra), ("HandshakeRejectedError", None));
    let (_, _, extra) = blocked(AccessControl::handshake_sc(
        socket("rejectsc=1&code=4500", None),
        None,
    ))
    .unwrap();
    assert_eq!(extra.as_deref(), Some(r#"{"statusCode":4500}"#));
}

#[test]
fn emit_and_subscribe() {
    let (_, message, _) = blocked(AccessControl::emit(
        socket("", None),
        "forbiddenEvent".into(),
        None,
    ))
    .unwrap();
    assert_eq!(message, "Emit of forbiddenEvent is blocked");
    assert!(matches!(
        AccessControl::emit(socket("", None), "ping".into(), None),
        Verdict::Allow
    ));

    let (name, message, _) = blocked(AccessControl::subscribe(
        socket("", None),
        "forbidden".into(),
        None,
    ))
    .unwrap();
    assert_eq!(
        (name.as_str(), message.as_str()),
        ("SubscribeBlockedError", "You cannot subscribe to forbidden")
    );
    assert!(blocked(AccessControl::subscribe(
        socket("", None),
        "private/x".into(),
        None
    ))
    .is_some());
    let admin = socket("", Some(r#"{"username":"a","role":"admin"}"#));
    assert!(matches!(
        AccessControl::subscribe(admin, "private/x".into(), None),
        Verdict::Allow
    ));
    let listed = || {
        socket(
            "",
            Some(r#"{"username":"u","role":"user","channels":["private/x"]}"#),
        )
    };
    assert!(matches!(
        AccessControl::subscribe(listed(), "private/x".into(), None),
        Verdict::Allow
    ));
    assert!(blocked(AccessControl::subscribe(listed(), "private/y".into(), None)).is_some());
}

#[test]
fn publish_in_and_out() {
    let anon = || socket("", None);
    let (name, message, _) =
        blocked(AccessControl::publish_in(anon(), "blocked".into(), None)).unwrap();
    assert_eq!(
        (name.as_str(), message.as_str()),
        (
            "PublishBlockedError",
            "Publishing to blocked is not allowed"
        )
    );
    assert!(matches!(
        AccessControl::publish_in(anon(), "silentBlocked".into(), None),
        Verdict::BlockSilently
    ));
    assert!(blocked(AccessControl::publish_in(anon(), "private/x".into(), None)).is_some());
    let data = Some(r#"{"rewrite":true,"n":1}"#.to_string());
    match AccessControl::publish_in(anon(), "pong".into(), data) {
        Verdict::Rewrite(text) => {
            assert_eq!(text, r#"{"n":1,"rewrite":true,"rewritten":true}"#)
        }
        other => panic!("expected a rewrite, got {other:?}"),
    }
    assert!(matches!(
        AccessControl::publish_in(anon(), "pong".into(), Some("5".into())),
        Verdict::Allow
    ));

    assert!(blocked(AccessControl::publish_out(
        anon(),
        "c".into(),
        Some(r#"{"dropOut":true}"#.into())
    ))
    .is_some());
    assert!(matches!(
        AccessControl::publish_out(anon(), "c".into(), Some("{}".into())),
        Verdict::Allow
    ));
}

#[test]
fn authenticate() {
    let auth = |claims: &str| AccessControl::authenticate(socket("", None), claims.to_string());
    let (name, message, extra) = blocked(auth(r#"{"username":"blocked"}"#)).unwrap();
    assert_eq!(
        (name.as_str(), message.as_str(), extra),
        ("AuthenticateMiddlewareError", "blocked is blocked", None)
    );
    let (_, _, extra) = blocked(auth(r#"{"username":"bad"}"#)).unwrap();
    assert_eq!(extra.as_deref(), Some(r#"{"isBadToken":true}"#));
    assert!(matches!(auth(r#"{"username":"alice"}"#), Verdict::Allow));
}
