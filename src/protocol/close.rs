//! WebSocket close codes the gateway sends, with the meaning SocketCluster clients give them
//! (`sc-protocol.md` section 11). Codes below 4500 make clients reconnect with backoff.

/// Going away: sent to every socket on shutdown. Clients reconnect with backoff and raise no error.
pub const GOING_AWAY: u16 = 1001;
/// The peer broke the WebSocket framing rules (RFC 6455 "protocol error").
pub const PROTOCOL_ERROR: u16 = 1002;
/// A text message that is not UTF-8 (RFC 6455 "invalid frame payload data").
pub const INVALID_PAYLOAD: u16 = 1007;
/// The server met a condition it did not expect (RFC 6455 "internal error"): sent in place of
/// a close code application code asked for that may not be sent (1005, 1006, 1015, codes
/// below 1000 or from 5000, unassigned ones).
pub const INTERNAL_ERROR: u16 = 1011;
/// A message whose fragments did not all arrive within `ping_timeout_ms` of the first (RFC 6455
/// "policy violation"): heartbeats keep a socket alive, not a message that never ends.
pub const MESSAGE_UNFINISHED: u16 = 1008;
/// A message larger than the configured maximum (RFC 6455 "message too big"); also a socket
/// closed because the partial message it holds is among the largest when `max_buffered_bytes`
/// is reached.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The socket's unsent output is among the largest when `max_buffered_bytes` is reached (RFC
/// 6455 "try again later"). Below 4500, so clients reconnect with backoff.
pub const TRY_AGAIN_LATER: u16 = 1013;
/// "Client pong timed out": nothing arrived from the client within `pingTimeout`.
pub const PONG_TIMEOUT: u16 = 4001;
/// "Did not receive #handshake from client before timeout".
pub const HANDSHAKE_TIMEOUT: u16 = 4005;
/// "Server rejected handshake from client": a malformed `#handshake`.
pub const HANDSHAKE_REJECTED: u16 = 4008;
/// "Server received a message before the client handshake".
pub const MESSAGE_BEFORE_HANDSHAKE: u16 = 4009;
/// The socket's outbound queue overflowed under the `disconnect` slow-consumer policy. Below 4500,
/// so the client reconnects (with backoff) and re-subscribes, noticing the gap.
pub const SLOW_CONSUMER: u16 = 4100;

/// The reason text sent with a close code the gateway chooses itself.
pub fn reason(code: u16) -> &'static str {
    match code {
        GOING_AWAY => "Server is shutting down",
        PROTOCOL_ERROR => "WebSocket protocol error",
        INVALID_PAYLOAD => "Text message is not UTF-8",
        MESSAGE_UNFINISHED => "Message not completed in time",
        MESSAGE_TOO_BIG => "Message too big",
        INTERNAL_ERROR => "Server error",
        TRY_AGAIN_LATER => "Server buffers full, try again later",
        PONG_TIMEOUT => "Client pong timed out",
        HANDSHAKE_TIMEOUT => "Did not receive #handshake from client before timeout",
        HANDSHAKE_REJECTED => "Server rejected handshake from client",
        MESSAGE_BEFORE_HANDSHAKE => "",
        SLOW_CONSUMER => "Slow consumer: outbound queue full",
        _ => "",
    }
}
