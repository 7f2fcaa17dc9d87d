//! Authentication (`sc-protocol.md` section 10) against a real gateway on port 0: tokens signed
//! by the gateway, verified in `#handshake` and `#authenticate`, the SocketCluster error names,
//! expiry during a session, the authenticate middleware, and the claims every hook sees.

mod common;

use common::{Client, STEP};
use jsonwebtoken::{encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use scgate::config::{ProtocolMode, Settings};
use scgate::protocol::ErrorObject;
use scgate::{Actions, Hooks, HooksFactory, Outcome, ServerHandle, SocketInfo, Verdict};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The shared HS256 key of these tests (at least 32 bytes).
const KEY: &str = "auth-test-key-0123456789abcdef-0123";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A token signed as a Node SocketCluster server sharing `KEY` would sign it.
fn token(claims: Value) -> String {
    token_with(Algorithm::HS256, claims)
}

fn token_with(alg: Algorithm, claims: Value) -> String {
    let key = EncodingKey::from_secret(KEY.as_bytes());
    encode(&Header::new(alg), &claims, &key).expect("sign")
}

/// Hooks that sign in (`login`), sign out (`logout`), report the claims they see (`whoami`),
/// and run middleware that depends on the claims.
struct AuthHooks;

fn claims_of(socket: &SocketInfo) -> Value {
    socket.auth_token.as_deref().map_or(Value::Null, |c| {
        serde_json::from_str(c).expect("claims JSON")
    })
}

impl Hooks for AuthHooks {
    fn on_event(
        &self,
        socket: &SocketInfo,
        event: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Outcome {
        let raw = |v: Value| Outcome::Ack(Some(scgate::protocol::encode::raw(&v)));
        match event {
            "login" => {
                actions.set_auth_token(data.map_or("null", RawValue::get));
                Outcome::Ack(None)
            }
            "logout" => {
                actions.deauthenticate();
                Outcome::Ack(None)
            }
            "whoami" => raw(json!({"authToken": claims_of(socket)})),
            "echo" | "adminOnly" => Outcome::Ack(data.map(ToOwned::to_owned)),
            _ => Outcome::Unhandled,
        }
    }

    /// `adminOnly` needs `role: admin` in the claims.
    fn emit(
        &self,
        socket: &SocketInfo,
        event: &str,
        _: Option<&RawValue>,
        _: &mut Actions,
    ) -> Verdict {
        if event == "adminOnly" && claims_of(socket)["role"] != "admin" {
            return Verdict::Block(ErrorObject::new("AdminOnlyError", "admins only"));
        }
        Verdict::Allow
    }

    /// `private/U` is open to the socket whose claims have `username: U`.
    fn subscribe(
        &self,
        socket: &SocketInfo,
        channel: &str,
        _: Option<&RawValue>,
        _: &mut Actions,
    ) -> Verdict {
        match channel.strip_prefix("private/") {
            Some(user) if claims_of(socket)["username"] != user => {
                Verdict::Block(ErrorObject::new("PrivateChannelError", "not yours"))
            }
            _ => Verdict::Allow,
        }
    }

    /// `blocked` is refused quietly, `bad` as a bad token; the claims must match the socket's.
    fn authenticate(&self, socket: &SocketInfo, claims: &str, _: &mut Actions) -> Verdict {
        let claims: Value = serde_json::from_str(claims).expect("claims JSON");
        assert_eq!(claims, claims_of(socket), "the socket carries the claims");
        match claims["username"].as_str() {
            Some("blocked") => Verdict::Block(ErrorObject::new(
                "AuthenticateMiddlewareError",
                "blocked is blocked",
            )),
            Some("bad") => Verdict::Block(
                ErrorObject::new("AuthenticateMiddlewareError", "bad token")
                    .with("isBadToken", true),
            ),
            _ => Verdict::Allow,
        }
    }
}

fn auth_hooks() -> HooksFactory {
    Arc::new(|_| Rc::new(AuthHooks))
}

/// Test settings with `KEY`, no leeway (expiry is exact), and `protocol`.
fn settings(protocol: ProtocolMode) -> Settings {
    Settings {
        auth_key: KEY.into(),
        auth_leeway_s: 0,
        protocol,
        ..common::settings()
    }
}

fn start(settings: Settings) -> ServerHandle {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    scgate::start(settings, listener, auth_hooks()).expect("start")
}

/// Sends `#handshake` with `token` (any JSON) and returns the frames before the reply, and the
/// reply's data.
async fn handshake_with(c: &mut Client, token: Value) -> (Vec<Value>, Value) {
    let cid = c.cid();
    c.send_json(json!({"event":"#handshake","data":{"authToken":token},"cid":cid}))
        .await;
    let (before, reply) = frames_until(c, cid).await;
    (before, reply["data"].clone())
}

/// Frames up to the reply to `cid`: (the ones before it, the reply).
async fn frames_until(c: &mut Client, cid: u64) -> (Vec<Value>, Value) {
    let mut before = Vec::new();
    loop {
        let frame = c.next_json().await;
        if frame["rid"] == cid {
            return (before, frame);
        }
        before.push(frame);
    }
}

/// Sends `event` with a cid; returns the frames before the reply, and the reply.
async fn invoke_frames(c: &mut Client, event: &str, data: Value) -> (Vec<Value>, Value) {
    let cid = c.cid();
    c.send_json(json!({"event":event,"data":data,"cid":cid}))
        .await;
    frames_until(c, cid).await
}

async fn whoami(c: &mut Client) -> Value {
    c.invoke("whoami", Value::Null).await["data"]["authToken"].clone()
}

fn remove_token(generation: ProtocolMode) -> Value {
    match generation {
        ProtocolMode::V1 => json!({"event":"#removeAuthToken","data":null}),
        _ => json!({"event":"#removeAuthToken"}),
    }
}

fn claims_of_token(token: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(KEY.as_bytes()),
        &validation,
    )
    .expect("the gateway's token verifies with the shared key")
    .claims
}

#[tokio::test]
async fn login_sends_an_hs256_token_before_the_ack_with_iat_and_default_expiry() {
    let gw = start(settings(ProtocolMode::Auto));
    let (mut c, hello) = Client::connected(gw.local_addr()).await;
    assert_eq!(hello["isAuthenticated"], false);
    assert!(hello.get("authError").is_none(), "{hello}");
    let before = now();
    let (frames, ack) = invoke_frames(&mut c, "login", json!({"username":"alice"})).await;
    assert_eq!(ack.get("error"), None, "{ack}");
    assert_eq!(
        frames.len(),
        1,
        "only #setAuthToken precedes the ack: {frames:?}"
    );
    assert_eq!(frames[0]["event"], "#setAuthToken");
    assert!(frames[0].get("cid").is_none(), "{frames:?}");
    let token = frames[0]["data"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let claims = claims_of_token(&token);
    let iat = claims["iat"].as_u64().expect("iat");
    assert!((before..=now()).contains(&iat));
    assert_eq!(claims["exp"].as_u64(), Some(iat + 86_400));
    assert_eq!(claims["username"], "alice");
    assert_eq!(whoami(&mut c).await, claims);

    // An explicit `exp` is kept.
    let (frames, _) = invoke_frames(
        &mut c,
        "login",
        json!({"username":"al","exp":4_000_000_000u64}),
    )
    .await;
    let claims = claims_of_token(frames[0]["data"]["token"].as_str().expect("token"));
    assert_eq!(claims["exp"], 4_000_000_000u64);

    // The token logs a new connection in (a reconnect with the stored token).
    let mut again = Client::connect(gw.local_addr()).await;
    let (frames, hello) = handshake_with(&mut again, json!(token)).await;
    assert_eq!(frames, Vec::<Value>::new());
    assert_eq!(hello["isAuthenticated"], true, "{hello}");
    assert!(hello.get("authError").is_none(), "{hello}");
    assert_eq!(whoami(&mut again).await["username"], "alice");
    gw.shutdown().await;
}

#[tokio::test]
async fn every_hook_sees_the_verified_claims() {
    let gw = start(settings(ProtocolMode::Auto));
    let mut c = Client::connect(gw.local_addr()).await;
    let claims = json!({"username":"root","role":"admin","iat":now(),"exp":now() + 600});
    let (_, hello) = handshake_with(&mut c, json!(token(claims.clone()))).await;
    assert_eq!(hello["isAuthenticated"], true, "{hello}");
    assert_eq!(whoami(&mut c).await, claims, "handler");
    let ok = c.invoke("adminOnly", json!(1)).await;
    assert_eq!(ok.get("error"), None, "emit middleware: {ok}");
    let sub = c
        .invoke("#subscribe", json!({"channel":"private/root"}))
        .await;
    assert_eq!(sub.get("error"), None, "subscribe middleware: {sub}");

    let mut guest = Client::connected(gw.local_addr()).await.0;
    let refused = guest.invoke("adminOnly", json!(1)).await;
    assert_eq!(refused["error"]["name"], "AdminOnlyError");
    let refused = guest
        .invoke("#subscribe", json!({"channel":"private/root"}))
        .await;
    assert_eq!(refused["error"]["name"], "PrivateChannelError");
    gw.shutdown().await;
}

/// (description, token, error name, error message); each a bad token.
fn bad_tokens() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let now = now();
    let wrong_key = encode(
        &Header::new(Algorithm::HS256),
        &json!({"username":"x"}),
        &EncodingKey::from_secret(b"another-key-0123456789abcdef-0123"),
    )
    .expect("sign");
    // `alg: none`, unsigned: what an attacker forges.
    let b64 = |v: Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg":"none","typ":"JWT"})),
        b64(json!({"username":"root"}))
    );
    vec![
        (
            "garbage",
            json!("abc"),
            "AuthTokenInvalidError",
            "jwt malformed",
        ),
        (
            "wrong key",
            json!(wrong_key),
            "AuthTokenInvalidError",
            "invalid signature",
        ),
        (
            "alg none",
            json!(none),
            "AuthTokenInvalidError",
            "invalid algorithm",
        ),
        (
            "HS384 with the right key",
            json!(token_with(Algorithm::HS384, json!({"username":"x"}))),
            "AuthTokenInvalidError",
            "invalid algorithm",
        ),
        (
            "string exp",
            json!(token(json!({"username":"x","exp":"9999999999"}))),
            "AuthTokenInvalidError",
            "invalid exp value",
        ),
        (
            "iat in the future",
            json!(token(json!({"username":"x","iat":now + 3600}))),
            "AuthTokenInvalidError",
            "jwt issued in the future",
        ),
        (
            "string iat",
            json!(token(json!({"username":"x","iat":"yesterday"}))),
            "AuthTokenInvalidError",
            "invalid iat value",
        ),
        (
            "not a string",
            json!(42),
            "AuthTokenInvalidError",
            "jwt must be a string",
        ),
        (
            "expired",
            json!(token(
                json!({"username":"x","iat":now - 7200,"exp":now - 3600})
            )),
            "AuthTokenExpiredError",
            "jwt expired",
        ),
    ]
}

#[tokio::test]
async fn bad_handshake_tokens_get_the_socketcluster_error_and_removeauthtoken_first() {
    let gw = start(settings(ProtocolMode::V1));
    for (what, bad, name, message) in bad_tokens() {
        let mut c = Client::connect(gw.local_addr()).await;
        let (frames, hello) = handshake_with(&mut c, bad).await;
        assert_eq!(frames, vec![remove_token(ProtocolMode::V1)], "{what}");
        assert_eq!(hello["isAuthenticated"], false, "{what}: {hello}");
        let err = &hello["authError"];
        assert_eq!(
            (err["name"].as_str(), err["message"].as_str()),
            (Some(name), Some(message)),
            "{what}: {hello}"
        );
        assert_eq!(err["isBadToken"], true, "{what}");
        assert_eq!(whoami(&mut c).await, Value::Null, "{what}");
    }
    // The expired one names its expiry as JavaScript's Date#toJSON writes it.
    let mut c = Client::connect(gw.local_addr()).await;
    let (_, hello) = handshake_with(&mut c, json!(token(json!({"exp":1_795_563_413u64})))).await;
    assert_eq!(hello["authError"]["expiry"], "2026-11-24T23:36:53.000Z");
    // No token (null or "") is no error.
    for none in [Value::Null, json!("")] {
        let mut c = Client::connect(gw.local_addr()).await;
        let (frames, hello) = handshake_with(&mut c, none).await;
        assert!(
            frames.is_empty() && hello.get("authError").is_none(),
            "{hello}"
        );
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused_but_kept_by_the_client() {
    let gw = start(settings(ProtocolMode::V2));
    let nbf = now() + 3600;
    let mut c = Client::connect(gw.local_addr()).await;
    let (frames, hello) = handshake_with(&mut c, json!(token(json!({"nbf":nbf})))).await;
    assert!(frames.is_empty(), "no #removeAuthToken: {frames:?}");
    assert_eq!(hello["isAuthenticated"], false);
    assert_eq!(hello["authError"]["name"], "AuthTokenNotBeforeError");
    assert_eq!(hello["authError"]["message"], "jwt not active");
    assert_eq!(hello["authError"]["isBadToken"], false);
    assert!(hello["authError"]["date"]
        .as_str()
        .is_some_and(|d| d.ends_with(".000Z")));
    gw.shutdown().await;
}

#[tokio::test]
async fn the_leeway_accepts_a_token_that_expired_within_it() {
    let expired_2s_ago = json!(token(
        json!({"username":"x","exp":now() - 2,"nbf":now() + 2})
    ));
    let gw = start(Settings {
        auth_leeway_s: 30,
        ..settings(ProtocolMode::V2)
    });
    let mut c = Client::connect(gw.local_addr()).await;
    let (_, hello) = handshake_with(&mut c, expired_2s_ago.clone()).await;
    assert_eq!(hello["isAuthenticated"], true, "{hello}");
    gw.shutdown().await;
    let gw = start(settings(ProtocolMode::V2));
    let mut c = Client::connect(gw.local_addr()).await;
    let (_, hello) = handshake_with(&mut c, expired_2s_ago).await;
    assert_eq!(
        hello["authError"]["name"], "AuthTokenExpiredError",
        "{hello}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn authenticate_answers_as_section_10_describes() {
    for protocol in [ProtocolMode::V1, ProtocolMode::V2] {
        let gw = start(settings(protocol));
        let (mut c, _) = Client::connected(gw.local_addr()).await;
        let valid = token(json!({"username":"dave","exp":now() + 600}));
        let (frames, reply) = invoke_frames(&mut c, "#authenticate", json!(valid)).await;
        assert!(frames.is_empty(), "{frames:?}");
        assert_eq!(
            reply["data"],
            json!({"isAuthenticated":true,"authError":null})
        );
        assert_eq!(whoami(&mut c).await["username"], "dave");

        // A bad token: #removeAuthToken first, then an error that carries data too (v14 reads it).
        for (what, bad, name, message) in bad_tokens().into_iter().chain([(
            "null",
            Value::Null,
            "AuthTokenInvalidError",
            "jwt must be provided",
        )]) {
            let (frames, reply) = invoke_frames(&mut c, "#authenticate", bad).await;
            assert_eq!(frames, vec![remove_token(protocol)], "{what}");
            assert_eq!(reply["error"]["name"], name, "{what}: {reply}");
            assert_eq!(reply["error"]["message"], message, "{what}");
            assert_eq!(reply["data"]["isAuthenticated"], false, "{what}");
            assert_eq!(reply["data"]["authError"], reply["error"], "{what}");
            assert_eq!(whoami(&mut c).await, Value::Null, "{what}");
        }

        // Not yet valid: a plain reply, the socket unauthenticated, the token kept.
        invoke_frames(&mut c, "#authenticate", json!(valid)).await;
        let early = token(json!({"nbf":now() + 600}));
        let (frames, reply) = invoke_frames(&mut c, "#authenticate", json!(early)).await;
        assert!(frames.is_empty(), "{frames:?}");
        assert_eq!(reply.get("error"), None);
        assert_eq!(reply["data"]["isAuthenticated"], false);
        assert_eq!(
            reply["data"]["authError"]["name"],
            "AuthTokenNotBeforeError"
        );
        assert_eq!(whoami(&mut c).await, Value::Null);
        gw.shutdown().await;
    }
}

#[tokio::test]
async fn the_authenticate_middleware_can_reject_a_valid_token() {
    let gw = start(settings(ProtocolMode::V2));
    // Quietly: isAuthenticated false with the error, no #removeAuthToken.
    let blocked = json!(token(json!({"username":"blocked"})));
    let mut c = Client::connect(gw.local_addr()).await;
    let (frames, hello) = handshake_with(&mut c, blocked.clone()).await;
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(hello["isAuthenticated"], false);
    assert_eq!(
        hello["authError"],
        json!({"name":"AuthenticateMiddlewareError","message":"blocked is blocked"})
    );
    assert_eq!(whoami(&mut c).await, Value::Null);
    let (frames, reply) = invoke_frames(&mut c, "#authenticate", blocked).await;
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(reply["data"]["isAuthenticated"], false, "{reply}");
    assert_eq!(reply["data"]["authError"]["message"], "blocked is blocked");

    // With isBadToken: the client is told to drop the token.
    let bad = json!(token(json!({"username":"bad"})));
    let mut c = Client::connect(gw.local_addr()).await;
    let (frames, hello) = handshake_with(&mut c, bad.clone()).await;
    assert_eq!(frames, vec![remove_token(ProtocolMode::V2)]);
    assert_eq!(hello["authError"]["isBadToken"], true);
    let (frames, reply) = invoke_frames(&mut c, "#authenticate", bad).await;
    assert_eq!(frames, vec![remove_token(ProtocolMode::V2)]);
    assert_eq!(reply["error"]["name"], "AuthenticateMiddlewareError");
    gw.shutdown().await;
}

#[tokio::test]
async fn deauthentication_from_either_side() {
    let gw = start(settings(ProtocolMode::V1));
    let (mut c, _) = Client::connected(gw.local_addr()).await;
    c.invoke("login", json!({"username":"erin"})).await;
    let (frames, _) = invoke_frames(&mut c, "logout", Value::Null).await;
    assert_eq!(
        frames,
        vec![remove_token(ProtocolMode::V1)],
        "before the ack"
    );
    assert_eq!(whoami(&mut c).await, Value::Null);
    // The client drops its token: the server forgets it and sends nothing back.
    c.invoke("login", json!({"username":"erin"})).await;
    c.send_json(json!({"event":"#removeAuthToken"})).await;
    let (frames, reply) = invoke_frames(&mut c, "whoami", Value::Null).await;
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(reply["data"]["authToken"], Value::Null);
    gw.shutdown().await;
}

/// Waits (on the clock, not on the gateway) until a token with `exp` has expired.
async fn until_past(exp: u64) {
    let wait = (exp + 1).saturating_mul(1000) as i128 - now_ms() as i128;
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64 + 20)).await;
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis()
}

#[tokio::test]
async fn an_expired_token_is_removed_on_the_next_message_which_still_runs() {
    let gw = start(settings(ProtocolMode::V1));
    let exp = now() + 2;
    let mut c = Client::connect(gw.local_addr()).await;
    let (_, hello) = handshake_with(&mut c, json!(token(json!({"username":"x","exp":exp})))).await;
    assert_eq!(hello["isAuthenticated"], true);
    until_past(exp).await;
    let (frames, reply) = invoke_frames(&mut c, "echo", json!("still runs")).await;
    assert_eq!(frames, vec![remove_token(ProtocolMode::V1)]);
    assert_eq!(reply["data"], "still runs");
    assert_eq!(whoami(&mut c).await, Value::Null);

    // A token signed by a hook with a short `exp` expires the same way, noticed on a pong.
    let exp = now() + 2;
    c.invoke("login", json!({"username":"y","exp":exp})).await;
    until_past(exp).await;
    // The next ping is answered (auto_pong): the removal follows without any event sent.
    let removed = tokio::time::timeout(STEP, async {
        loop {
            if c.next_json().await["event"] == "#removeAuthToken" {
                return;
            }
        }
    })
    .await;
    assert!(removed.is_ok(), "no #removeAuthToken after a pong");
    assert_eq!(whoami(&mut c).await, Value::Null);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_waitforauth_subscribe_with_a_just_expired_token_fails_on_v1_only() {
    for (protocol, fails) in [(ProtocolMode::V1, true), (ProtocolMode::V2, false)] {
        // No pings during the test: only the subscribe may notice the expiry.
        let gw = start(Settings {
            ping_interval_ms: 60_000,
            ping_timeout_ms: 120_000,
            ..settings(protocol)
        });
        let exp = now() + 2;
        let mut c = Client::connect(gw.local_addr()).await;
        handshake_with(&mut c, json!(token(json!({"exp":exp})))).await;
        until_past(exp).await;
        let (frames, reply) = invoke_frames(
            &mut c,
            "#subscribe",
            json!({"channel":"news","waitForAuth":true}),
        )
        .await;
        assert!(frames.contains(&remove_token(protocol)), "{frames:?}");
        if fails {
            assert_eq!(
                reply["error"],
                json!({"name":"AuthTokenExpiredError","message":"The socket auth token has expired","expiry":exp})
            );
        } else {
            assert_eq!(reply.get("error"), None, "{reply}");
        }
        gw.shutdown().await;
    }
}

#[tokio::test]
async fn tokens_of_a_random_key_die_with_the_process() {
    let random = Settings {
        auth_key: String::new(),
        ..settings(ProtocolMode::V2)
    };
    let a = start(random.clone());
    let (mut c, _) = Client::connected(a.local_addr()).await;
    let (frames, _) = invoke_frames(&mut c, "login", json!({"username":"z"})).await;
    let signed = frames[0]["data"]["token"].clone();
    let mut again = Client::connect(a.local_addr()).await;
    assert_eq!(
        handshake_with(&mut again, signed.clone()).await.1["isAuthenticated"],
        true
    );
    let b = start(random);
    let mut other = Client::connect(b.local_addr()).await;
    let (_, hello) = handshake_with(&mut other, signed).await;
    assert_eq!(hello["authError"]["message"], "invalid signature");
    a.shutdown().await;
    b.shutdown().await;
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/auth/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn rs256_and_es256_sign_and_verify_with_key_files() {
    use scgate::config::AuthAlgorithm;
    for (algorithm, alg, private, public) in [
        (
            AuthAlgorithm::Rs256,
            Algorithm::RS256,
            "rsa-private.pem",
            "rsa-public.pem",
        ),
        (
            AuthAlgorithm::Es256,
            Algorithm::ES256,
            "ec-private.pem",
            "ec-public.pem",
        ),
    ] {
        let gw = start(Settings {
            auth_algorithm: algorithm,
            auth_key: String::new(),
            auth_private_key_file: fixture(private),
            auth_public_key_file: fixture(public),
            ..settings(ProtocolMode::V2)
        });
        let (mut c, _) = Client::connected(gw.local_addr()).await;
        let (frames, _) = invoke_frames(&mut c, "login", json!({"username":"pk"})).await;
        let signed = frames[0]["data"]["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let pem = std::fs::read(fixture(public)).expect("public key");
        let key = match alg {
            Algorithm::RS256 => DecodingKey::from_rsa_pem(&pem),
            _ => DecodingKey::from_ec_pem(&pem),
        }
        .expect("PEM");
        let claims = jsonwebtoken::decode::<Value>(&signed, &key, &Validation::new(alg))
            .expect("verifies with the public key")
            .claims;
        assert_eq!(claims["username"], "pk");
        let mut again = Client::connect(gw.local_addr()).await;
        let (_, hello) = handshake_with(&mut again, json!(signed)).await;
        assert_eq!(hello["isAuthenticated"], true, "{alg:?}: {hello}");
        // An HS256 token, even one signed with the public key as the secret, is refused.
        let confused = encode(
            &Header::new(Algorithm::HS256),
            &json!({"username":"root"}),
            &EncodingKey::from_secret(&pem),
        )
        .expect("sign");
        let mut evil = Client::connect(gw.local_addr()).await;
        let (_, hello) = handshake_with(&mut evil, json!(confused)).await;
        assert_eq!(
            hello["authError"]["message"], "invalid algorithm",
            "{alg:?}"
        );
        gw.shutdown().await;
    }
}

#[test]
fn auth_settings_are_checked_before_start() {
    use scgate::config::AuthAlgorithm;
    let check = |s: Settings| match s.validate() {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    };
    let short = check(Settings {
        auth_key: "too short".into(),
        ..Settings::default()
    });
    assert!(
        short.contains("`auth_key` must be at least 32 bytes for HS256"),
        "{short}"
    );
    let leeway = check(Settings {
        auth_leeway_s: 301,
        ..Settings::default()
    });
    assert!(
        leeway.contains("`auth_leeway_s` must be at most 300"),
        "{leeway}"
    );
    let stray = check(Settings {
        auth_public_key_file: fixture("rsa-public.pem"),
        ..Settings::default()
    });
    assert!(
        stray.contains("`auth_public_key_file` is only used when auth_algorithm is RS256 or ES256"),
        "{stray}"
    );
    let rs = |private: &str, public: &str| Settings {
        auth_algorithm: AuthAlgorithm::Rs256,
        auth_private_key_file: private.into(),
        auth_public_key_file: public.into(),
        ..Settings::default()
    };
    let missing = check(rs("", ""));
    assert!(
        missing.contains("`auth_private_key_file` required when auth_algorithm is RS256 or ES256"),
        "{missing}"
    );
    let unreadable = check(rs("/no/such/key.pem", &fixture("rsa-public.pem")));
    assert!(
        unreadable.contains("cannot read \"/no/such/key.pem\""),
        "{unreadable}"
    );
    let not_rsa = check(rs(&fixture("ec-private.pem"), &fixture("rsa-public.pem")));
    assert!(
        not_rsa.contains("`auth_private_key_file` not a PEM private key for RS256"),
        "{not_rsa}"
    );
    let mismatch = check(rs(
        &fixture("rsa-private.pem"),
        &fixture("other-rsa-public.pem"),
    ));
    assert!(
        mismatch.contains("`auth_public_key_file` does not verify what the private key signs"),
        "{mismatch}"
    );
    let key_too = check(Settings {
        auth_key: KEY.into(),
        ..rs(&fixture("rsa-private.pem"), &fixture("rsa-public.pem"))
    });
    assert!(
        key_too.contains("`auth_key` is only used when auth_algorithm is HS256"),
        "{key_too}"
    );
    assert_eq!(
        check(rs(&fixture("rsa-private.pem"), &fixture("rsa-public.pem"))),
        ""
    );
}
