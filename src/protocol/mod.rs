//! The SocketCluster wire protocol: what a frame means, how replies are written, error objects
//! and close codes. Pure functions over text; no I/O. See `sc-protocol.md` sections 3–5 and 11.

pub mod close;
pub mod decode;
pub mod encode;
pub mod error;

pub use decode::{decode, Cid, EventPacket, Inbound};
pub use error::ErrorObject;

/// Which protocol generation a socket speaks, as far as the server knows yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// Not known yet (an `auto` listener before the socket's first pong).
    Unknown,
    /// Protocol v1: socketcluster-client ≤ 14, or newer with `protocolVersion: 1`.
    V1,
    /// Protocol v2: socketcluster-client ≥ 15.
    V2,
}

/// The v1 heartbeat ping the server sends.
pub const PING_V1: &str = "#1";
/// The v1 heartbeat pong a client answers with.
pub const PONG_V1: &str = "#2";
/// The v2 heartbeat ping and pong: the empty string.
pub const PING_V2: &str = "";
