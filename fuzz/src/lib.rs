//! Fuzz targets for the code that reads what clients send: the WebSocket frame parser
//! (`src/connection/ws/frame.rs`, checked against tungstenite's parser on the same bytes) and
//! the SocketCluster packet decoder (`src/protocol/decode.rs`, checked against a plain
//! `serde_json::Value` reading of the same text). The gateway's files are compiled here as
//! they are, so what is fuzzed is what runs.
//!
//! A target returns `Err(why)` when the two readings disagree; a panic is a failure too. The
//! driver (`src/main.rs`, `scripts/fuzz.sh`) mutates the corpus for a given time; the tests
//! (`tests/regressions.rs`) replay the corpus and every saved failure.

#[allow(dead_code)]
#[path = "../../src/connection/ws/frame.rs"]
pub mod frame;

#[allow(dead_code)]
#[path = "../../src/protocol/decode.rs"]
pub mod decode;

mod targets;

pub use targets::{close_payload, frame_header, packet, Target, TARGETS};
