//! scgate: a WebSocket pub/sub gateway that speaks the SocketCluster protocol.
//!
//! Module map:
//! - [`config`], [`cli`]: settings (defaults < file < env < flags) and the command line.
//! - [`server`]: the listener, acceptor, worker threads, shutdown; [`start`](server::start) is the
//!   embedding entry point.
//! - `worker`: one thread per core, each with its own sockets, channel table and hooks.
//! - `connection`: one socket — reader, writer, bounded outbox, heartbeat.
//! - [`protocol`]: the SocketCluster wire format.
//! - [`broker`]: the channel table shared by workers (in-process shards by default).
//! - [`hooks`], [`gateway`]: the seam for application logic and server-side control of clients.
//! - `http`: the public port's HTTP: the upgrade, a liveness `/health`, static files.
//! - `admin`: the admin listener: `/health` with counters, `/metrics`, `/plugins`.

mod admin;
pub mod auth;
pub mod broker;
pub mod cli;
pub mod config;
mod connection;
pub mod date;
pub mod gateway;
pub mod hooks;
mod http;
pub mod metrics;
pub mod plugin;
pub mod protocol;
pub mod server;
pub mod socket_id;
mod worker;

pub use config::Settings;
pub use gateway::Gateway;
pub use hooks::{Actions, Hooks, HooksFactory, Outcome, SocketInfo, Stage, Verdict};
pub use server::{start, ServerHandle};
