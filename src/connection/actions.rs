//! Carrying out what application code asked for during one call ([`Actions`]), in order,
//! before the reply to the event that triggered it.

use super::{auth, session::Session};
use crate::hooks::{self, Action, Actions};
use crate::protocol::encode;
use serde_json::value::RawValue;

/// Applies `actions` for the socket of `s`. A disconnect of the calling socket is returned
/// instead of done, so the caller can send its reply first.
pub(super) async fn apply_all(s: &mut Session, actions: Actions) -> Option<(u16, String)> {
    let mut close_self = None;
    for action in actions.0 {
        apply(s, action, &mut close_self).await;
    }
    close_self
}

async fn apply(s: &mut Session, action: Action, close_self: &mut Option<(u16, String)>) {
    // Actions for the calling socket (no id, or its own) are done here, in order with its
    // reply; everything else goes through the gateway.
    let own = |socket: &Option<String>| socket.as_deref().is_none_or(|id| id == &*s.info.id);
    let result = match action {
        Action::Transmit {
            socket,
            event,
            data,
        } if own(&socket) => {
            s.outbox
                .push(encode::event(&event, data.as_deref().map(RawValue::get)));
            Ok(())
        }
        Action::KickOut {
            socket,
            channel,
            message,
        } if own(&socket) => {
            s.kick_out(&channel, &message).await;
            Ok(())
        }
        Action::Disconnect {
            socket,
            code,
            reason,
        } if own(&socket) => {
            close_self.get_or_insert((code, reason));
            Ok(())
        }
        Action::SetAuthToken { socket, claims } if own(&socket) => {
            auth::set_auth_token(s, &claims);
            Ok(())
        }
        Action::Deauthenticate { socket } if own(&socket) => {
            auth::deauthenticate(s);
            Ok(())
        }
        other => hooks::apply_through_gateway(&s.ctx.gateway, other).await,
    };
    if let Err(err) = result {
        tracing::warn!(socket = %s.info.id, "hook action failed: {err}");
    }
}
