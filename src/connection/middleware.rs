//! Turning a middleware [`Verdict`] into what the client sees: the data to go on with, or the
//! error to answer with — including the two generations' `SilentMiddlewareBlockedError` shapes.

use crate::hooks::{Stage, Verdict};
use crate::protocol::{ErrorObject, Generation};
use serde_json::value::RawValue;

/// The outcome of a verdict for the code that asked: go on (with rewritten data, if any) or stop
/// with an error for the client.
pub(crate) fn outcome(
    verdict: Verdict,
    stage: Stage,
    generation: Generation,
) -> Result<Option<Box<RawValue>>, ErrorObject> {
    match verdict {
        Verdict::Allow => Ok(None),
        Verdict::Rewrite(data) => Ok(Some(data)),
        Verdict::Block(error) => Err(error),
        Verdict::BlockSilently => Err(silent_block(stage, generation)),
    }
}

/// `SilentMiddlewareBlockedError` as each generation's server words it (`sc-protocol.md` §12):
/// v14 names the middleware type; v15+ names the action and the middleware stream.
pub(crate) fn silent_block(stage: Stage, generation: Generation) -> ErrorObject {
    const NAME: &str = "SilentMiddlewareBlockedError";
    if generation == Generation::V1 {
        let message = format!("Action was silently blocked by {} middleware", stage.name());
        return ErrorObject::new(NAME, message).with("type", stage.name());
    }
    let (action, stream) = match stage {
        Stage::HandshakeWs => ("handshakeWS", "handshake"),
        Stage::HandshakeSc => ("handshakeSC", "handshake"),
        Stage::Emit => ("invoke", "inbound"),
        Stage::Subscribe => ("subscribe", "inbound"),
        Stage::PublishIn => ("publishIn", "inbound"),
        Stage::Authenticate => ("authenticate", "inbound"),
        Stage::PublishOut => ("publishOut", "outbound"),
    };
    let message = format!("The {action} AGAction was blocked by {stream} middleware");
    ErrorObject::new(NAME, message).with("type", stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_blocks_match_the_reference_servers() {
        let v14 = silent_block(Stage::PublishIn, Generation::V1).to_value();
        assert_eq!(
            v14["message"],
            "Action was silently blocked by publishIn middleware"
        );
        assert_eq!(v14["type"], "publishIn");
        let v20 = silent_block(Stage::PublishIn, Generation::V2).to_value();
        assert_eq!(
            v20["message"],
            "The publishIn AGAction was blocked by inbound middleware"
        );
        assert_eq!(v20["type"], "inbound");
        assert_eq!(v20["name"], "SilentMiddlewareBlockedError");
    }
}
