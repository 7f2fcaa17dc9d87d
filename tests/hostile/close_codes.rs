//! Item 13: close codes. A close code from application code (plugins, middleware's
//! `statusCode`, the embedding API) went on the wire as given, 1005 and 1006 included, and a
//! client's close frame carrying a code no peer may send (1005, 1006, 1015, < 1000, ≥ 5000,
//! unassigned) was echoed or accepted. The gateway now sends 1011 instead of a code that may
//! not be sent, and answers such a client close with 1002.

use crate::common::{settings, start_with, Client};
use crate::raw::{close, Raw};
use scgate::{Actions, Hooks, HooksFactory, Outcome, SocketInfo};
use serde_json::{json, value::RawValue, Value};
use std::rc::Rc;
use std::sync::Arc;

/// `drop {code, reason}` disconnects the calling socket with that code.
struct DropHooks;

impl Hooks for DropHooks {
    fn on_event(
        &self,
        _: &SocketInfo,
        event: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Outcome {
        if event != "drop" {
            return Outcome::Unhandled;
        }
        let v: Value = serde_json::from_str(data.map_or("null", RawValue::get)).unwrap_or_default();
        let code = v["code"].as_u64().unwrap_or(4000) as u16;
        actions.disconnect(None, code, v["reason"].as_str().unwrap_or("bye"));
        Outcome::Ack(None)
    }
}

fn drop_hooks() -> HooksFactory {
    Arc::new(|_| Rc::new(DropHooks))
}

#[tokio::test]
async fn application_close_codes_that_may_not_be_sent_become_1011() {
    let server = start_with(settings(), drop_hooks());
    let addr = server.local_addr();
    for code in [1005, 1006, 1015, 1004, 999, 2000, 5000] {
        let (mut client, _) = Client::connected(addr).await;
        client
            .send_json(json!({"event":"drop","data":{"code":code,"reason":"why"},"cid":9}))
            .await;
        let (got, _) = client.closed().await;
        assert_eq!(got, 1011, "the plugin asked for {code}");
    }
    let (mut client, _) = Client::connected(addr).await;
    client
        .send_json(json!({"event":"drop","data":{"code":4321,"reason":"why"},"cid":9}))
        .await;
    assert_eq!(
        client.closed().await,
        (4321, "why".to_owned()),
        "valid codes pass"
    );

    // The embedding API goes through the same check.
    let (mut client, hs) = Client::connected(addr).await;
    let id = hs["id"].as_str().unwrap().to_owned();
    server
        .gateway()
        .disconnect(&id, 1006, "abnormal")
        .await
        .unwrap();
    assert_eq!(client.closed().await.0, 1011);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_close_with_a_code_no_peer_may_send_is_answered_with_1002() {
    let server = start_with(settings(), drop_hooks());
    let addr = server.local_addr();
    for code in [1005, 1006, 1015, 1004, 999, 0, 2999, 5000, 65535] {
        let mut raw = Raw::handshaken(addr).await;
        raw.send(&close(code)).await;
        let got = raw.closed().await.map(|(code, _)| code);
        assert_eq!(got, Some(1002), "the client closed with {code}");
    }
    for code in [1000, 1001, 3000, 4500] {
        let mut raw = Raw::handshaken(addr).await;
        raw.send(&close(code)).await;
        let got = raw.closed().await.map(|(code, _)| code);
        assert_eq!(got, Some(code), "a valid code is echoed");
    }
    server.shutdown().await;
}
