//! What a socket does with each event after the handshake: the reserved `#` events of the
//! protocol (`sc-protocol.md` sections 9, 10, 13) and application events for the hooks.

use super::session::Session;
use super::{actions, auth, middleware};
use crate::hooks::{Actions, Outcome, Stage, Verdict};
use crate::metrics::Metrics;
use crate::protocol::decode::present;
use crate::protocol::{encode, Cid, ErrorObject, EventPacket, Generation};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::Arc;

/// Events the v14 server raises locally; inbound events with these names are dropped without
/// a reply, as SocketCluster 14 does, so a client cannot spoof server-side lifecycle events.
const V14_LOCAL_EVENTS: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "connect",
    "_connect",
    "disconnect",
    "_disconnect",
    "connectAbort",
    "_connectAbort",
    "close",
    "_close",
    "message",
    "error",
    "authStateChange",
    "authTokenSigned",
    "authenticate",
    "deauthenticate",
    "badAuthToken",
    "raw",
];

#[derive(Deserialize)]
struct ChannelData<'a> {
    #[serde(borrow)]
    channel: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    /// `#subscribe` only: the client holds the subscription until it is authenticated.
    #[serde(default, rename = "waitForAuth")]
    wait_for_auth: bool,
}

/// Handles one event packet on a socket that completed its handshake; `expired` is the
/// `AuthTokenExpiredError` when the socket's token expired as this packet arrived.
pub(super) async fn handle(s: &mut Session, e: EventPacket<'_>, expired: Option<ErrorObject>) {
    match e.event.as_ref() {
        // Refused: a second handshake would run the handshake middleware and take a token
        // again at the client's will (docs/limits.md).
        "#handshake" => s.reply_error(
            e.cid,
            &ErrorObject::new(
                "InvalidActionError",
                "The socket has already completed its handshake",
            ),
        ),
        "#subscribe" => subscribe(s, e.cid, e.data, expired).await,
        "#unsubscribe" => unsubscribe(s, e.cid, e.data).await,
        "#publish" => publish(s, e.cid, e.data).await,
        "#authenticate" => auth::authenticate(s, e.cid, e.data).await,
        // The client dropped its token: forget it, without telling it back.
        "#removeAuthToken" => s.set_auth(None),
        // v14's `#disconnect` precedes the client's own close frame, which ends the socket.
        name if name.starts_with('#') => {}
        name if V14_LOCAL_EVENTS.contains(&name) => {}
        name => app_event(s, name, e.cid, e.data).await,
    }
}

/// The channel named by `#subscribe`/`#unsubscribe` data — `{"channel":…,"data":…}`, or v14's
/// plain string form — with the subscription's own `data` and `waitForAuth`, in one parse.
fn channel_of<'a>(data: Option<&'a RawValue>) -> Option<ChannelData<'a>> {
    let raw = data?.get();
    if raw.starts_with('"') {
        return serde_json::from_str::<Cow<'a, str>>(raw)
            .ok()
            .map(|channel| ChannelData {
                channel,
                data: None,
                wait_for_auth: false,
            });
    }
    serde_json::from_str::<ChannelData<'a>>(raw).ok()
}

fn too_long(s: &Session, channel: &str) -> Option<ErrorObject> {
    let max = s.ctx.settings.max_channel_name_bytes;
    (channel.len() > max).then(|| {
        ErrorObject::invalid_action(format!(
            "Channel name exceeds the maximum length of {max} bytes"
        ))
    })
}

async fn subscribe(
    s: &mut Session,
    cid: Cid,
    data: Option<&RawValue>,
    expired: Option<ErrorObject>,
) {
    let Some(ChannelData {
        channel,
        data: sub_data,
        wait_for_auth,
    }) = channel_of(data)
    else {
        let err = ErrorObject::invalid_action("Subscribe channel name was malformatted");
        return s.reply_error(cid, &err);
    };
    // v14 fails a `waitForAuth` subscribe whose token just expired; v15+ lets it through.
    if let Some(expired) = expired.filter(|_| wait_for_auth && s.generation != Generation::V2) {
        return s.reply_error(cid, &expired);
    }
    if let Some(err) = too_long(s, &channel) {
        return s.reply_error(cid, &err);
    }
    if s.subscriptions.contains(channel.as_ref()) {
        return s.reply(cid, None);
    }
    let limit = s.ctx.settings.max_channels_per_socket;
    if s.subscriptions.len() >= limit {
        let message = format!(
            "Socket {} tried to exceed the channel subscription limit of {limit}",
            s.info.id
        );
        return s.reply_error(cid, &ErrorObject::invalid_action(message));
    }
    let hooks = s.ctx.hooks.clone();
    let passed = pass(s, Stage::Subscribe, cid, sub_data, |s, a| {
        hooks.subscribe(&s.info, &channel, sub_data, a)
    })
    .await;
    if passed.is_none() {
        return;
    }
    let channel: Arc<str> = channel.into();
    let first = s
        .ctx
        .channels
        .borrow_mut()
        .add(&channel, s.key, s.outbox.clone());
    if first {
        if let Err(err) = s.ctx.broker.subscribe(s.ctx.index, channel.clone()).await {
            s.ctx.channels.borrow_mut().remove(&channel, s.key);
            return s.reply_error(cid, &ErrorObject::broker(err.to_string()));
        }
    }
    s.subscriptions.insert(channel);
    s.reply(cid, None);
}

async fn unsubscribe(s: &mut Session, cid: Cid, data: Option<&RawValue>) {
    let Some(ChannelData { channel, .. }) = channel_of(data) else {
        let err = ErrorObject::invalid_action("Unsubscribe channel name was malformatted");
        return s.reply_error(cid, &err);
    };
    if s.leave(&channel).await {
        return s.reply(cid, None);
    }
    let message = format!(
        "Socket {} tried to unsubscribe from a channel which it is not subscribed to",
        s.info.id
    );
    s.reply_error(cid, &ErrorObject::broker(message));
}

async fn publish(s: &mut Session, cid: Cid, data: Option<&RawValue>) {
    if !s.ctx.settings.allow_client_publish {
        let err = ErrorObject::invalid_action("Client publish feature is disabled");
        return s.reply_error(cid, &err);
    }
    let parsed = data.and_then(|raw| serde_json::from_str::<ChannelData<'_>>(raw.get()).ok());
    let Some(ChannelData { channel, data, .. }) = parsed else {
        let err = ErrorObject::invalid_action("Publish channel name was malformatted");
        return s.reply_error(cid, &err);
    };
    if let Some(err) = too_long(s, &channel) {
        return s.reply_error(cid, &err);
    }
    let hooks = s.ctx.hooks.clone();
    let passed = pass(s, Stage::PublishIn, cid, data, |s, a| {
        hooks.publish_in(&s.info, &channel, data, a)
    })
    .await;
    let Some(data) = passed else {
        return;
    };
    let frame = encode::publish(&channel, data.as_deref().map(RawValue::get));
    Metrics::inc(&s.ctx.metrics.publishes);
    match s.ctx.broker.publish(channel.into(), frame).await {
        Ok(()) => s.reply(cid, None),
        Err(err) => s.reply_error(cid, &ErrorObject::broker(err.to_string())),
    }
}

/// Runs one middleware stage; returns the data to go on with, or `None` after answering the
/// client with the block.
async fn pass<'a>(
    s: &mut Session,
    stage: Stage,
    cid: Cid,
    data: Option<&'a RawValue>,
    call: impl FnOnce(&Session, &mut Actions) -> Verdict,
) -> Option<Option<Cow<'a, RawValue>>> {
    let mut actions = Actions::default();
    let verdict = call(s, &mut actions);
    let close_self = actions::apply_all(s, actions).await;
    let result = match middleware::outcome(verdict, stage, s.generation) {
        Ok(Some(rewritten)) => Some(Some(Cow::Owned(rewritten))),
        Ok(None) => Some(data.map(Cow::Borrowed)),
        Err(error) => {
            s.reply_error(cid, &error);
            None
        }
    };
    if let Some((code, reason)) = close_self {
        s.close(code, &reason);
    }
    result
}

async fn app_event(s: &mut Session, name: &str, cid: Cid, data: Option<&RawValue>) {
    let hooks = s.ctx.hooks.clone();
    let passed = pass(s, Stage::Emit, cid, data, |s, a| {
        hooks.emit(&s.info, name, data, a)
    })
    .await;
    let Some(data) = passed else {
        return;
    };
    let mut actions = Actions::default();
    let outcome = hooks.on_event(&s.info, name, data.as_deref(), &mut actions);
    let close_self = actions::apply_all(s, actions).await;
    match outcome {
        Outcome::Unhandled => {}
        Outcome::Ack(data) => s.reply(cid, data.as_deref().map(RawValue::get)),
        Outcome::Fail(err) => s.reply_error(cid, &err),
    }
    if let Some((code, reason)) = close_self {
        s.close(code, &reason);
    }
}
