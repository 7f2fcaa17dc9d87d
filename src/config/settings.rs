//! The one validated set of settings a running gateway reads.
//!
//! Every field here is a setting a user can put in `scgate.toml`, in an `SCGATE_*` environment
//! variable, or on the `scgate serve` command line. `Default` holds the documented defaults;
//! `docs::SETTING_DOCS` holds the text `scgate gen-config` prints for each one.

use serde::{Deserialize, Serialize};

/// Which SocketCluster heartbeat strings a listener speaks (`sc-protocol.md` sections 7 and 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolMode {
    /// Protocol v1 (socketcluster-client ≤ 14): ping `#1`, pong `#2`.
    #[serde(rename = "1")]
    V1,
    /// Protocol v2 (socketcluster-client ≥ 15): ping and pong are the empty string.
    #[serde(rename = "2")]
    V2,
    /// Send both ping strings until a socket's first pong shows its generation, then only its own.
    #[serde(rename = "auto")]
    Auto,
}

/// What happens when a socket's bounded outbound queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlowConsumerPolicy {
    /// Close the socket (code 4100). The client reconnects and re-subscribes, so it notices the
    /// gap instead of silently missing messages. Memory per socket stays bounded. The default.
    #[serde(rename = "disconnect")]
    Disconnect,
    /// Keep the socket and drop the message that did not fit. The client misses messages
    /// without being told; the drop is counted in the metrics.
    #[serde(rename = "drop-newest")]
    DropNewest,
}

/// The algorithm that signs and verifies auth tokens; fixed per gateway, as in SocketCluster
/// (`authAlgorithm`). A token whose header names any other algorithm is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthAlgorithm {
    /// HMAC-SHA256 with the shared `auth_key`: the SocketCluster default, so tokens work with
    /// Node SocketCluster servers that share the key.
    #[serde(rename = "HS256")]
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256, with a private key to sign and a public key to verify.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256, with a private key to sign and a public key to verify.
    #[serde(rename = "ES256")]
    Es256,
}

/// Every setting of `scgate serve`, resolved from defaults < file < env < flags and validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub host: String,
    /// TCP port to listen on (0 picks a free port).
    pub port: u16,
    /// Exact URL path of the SocketCluster WebSocket endpoint.
    pub path: String,
    /// Address of the admin listener (`/health` details, `/metrics`, `/plugins`); empty: none.
    pub admin_host: String,
    /// TCP port of the admin listener (0 picks a free port).
    pub admin_port: u16,
    /// Bearer token every admin request must carry; empty: none asked.
    pub admin_token: String,
    /// Worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// In-process broker shards (the channel table split by a hash of the name); 0 means one per worker.
    pub brokers: usize,
    /// Broker backend: `memory` (in-process), or a `redis://` or `nats://` URL (several nodes
    /// act as one).
    pub broker: String,
    /// Heartbeat protocol: "1", "2" or "auto".
    pub protocol: ProtocolMode,
    /// Milliseconds between server pings.
    pub ping_interval_ms: u64,
    /// Milliseconds without any inbound message before a socket is closed with 4001; sent to clients as `pingTimeout`.
    pub ping_timeout_ms: u64,
    /// Milliseconds a socket may take to send `#handshake` before it is closed with 4005.
    pub handshake_timeout_ms: u64,
    /// Milliseconds a client may take to send its HTTP request headers (upgrade included).
    pub upgrade_timeout_ms: u64,
    /// Largest inbound WebSocket message in bytes; larger ones close the socket with 1009.
    pub max_message_bytes: usize,
    /// Longest channel name in bytes.
    pub max_channel_name_bytes: usize,
    /// Most channels one socket may subscribe to.
    pub max_channels_per_socket: usize,
    /// Most simultaneous TCP connections; past it new ones get HTTP 503.
    pub max_connections: usize,
    /// Most simultaneous connections from one address (IPv6: one /64); 0: no limit.
    pub max_connections_per_ip: usize,
    /// Most new connections one address (IPv6: one /64) may open per second; 0: no limit.
    pub accept_rate_per_ip: u32,
    /// Frames a socket's outbound queue holds before the slow-consumer policy applies.
    pub outbound_queue_frames: usize,
    /// Bytes a socket's outbound queue holds before the slow-consumer policy applies.
    pub outbound_queue_bytes: usize,
    /// Bytes all sockets together may buffer in messages being read and output not yet taken
    /// by their peers; past it the largest holders are closed.
    pub max_buffered_bytes: usize,
    /// "disconnect" or "drop-newest".
    pub slow_consumer: SlowConsumerPolicy,
    /// Whether clients may `#publish`.
    pub allow_client_publish: bool,
    /// The most one read takes from a socket (its read buffer exists only while reading).
    pub read_buffer_bytes: usize,
    /// Bytes of queued frames framed ahead into one write (0: one frame at a time).
    pub write_buffer_bytes: usize,
    /// Folder of static files served over HTTP on the same port; empty disables it.
    pub public_dir: String,
    /// Serve static paths with a segment starting with a dot (`/.env`, `/.git/…`).
    pub public_dotfiles: bool,
    /// Serve static files that symbolic links lead to outside `public_dir`.
    pub public_outside_links: bool,
    /// Origins allowed to open WebSockets, as SocketCluster's `origins` (`HOST:PORT`, `*` wildcards).
    pub origins: String,
    /// Whether the public port answers `GET /status/plugins` (the plugin status report without
    /// file paths) for pages like the sample one in public/; dev mode answers it regardless.
    pub public_plugin_status: bool,
    /// Milliseconds to let sockets drain after SIGINT/SIGTERM before exiting.
    pub shutdown_grace_ms: u64,
    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` overrides it.
    pub log: String,
    /// Folder whose `*.wasm` components are loaded as plugins; empty disables it.
    pub plugins_dir: String,
    /// Reload plugins when their files change.
    pub plugins_watch: bool,
    /// Rebuild and reload Rust plugins when their source under `dev_src` changes.
    pub dev: bool,
    /// Folder of Rust plugin sources watched in dev mode.
    pub dev_src: String,
    /// CPU deadline of one plugin call in milliseconds.
    pub plugin_deadline_ms: u64,
    /// Most linear memory one plugin instance may grow to, in bytes.
    pub plugin_memory_bytes: usize,
    /// Largest component file accepted, in bytes.
    pub plugin_max_component_bytes: usize,
    /// Folder of the on-disk cache of compiled components (`~/` = home); empty disables it.
    pub plugin_cache_dir: String,
    /// Most tables one plugin instance may create.
    pub plugin_max_tables: usize,
    /// Most elements one plugin table may hold.
    pub plugin_max_table_elements: usize,
    /// Most (core and component) instances one plugin may create.
    pub plugin_max_instances: usize,
    /// Algorithm of auth tokens: "HS256", "RS256" or "ES256".
    pub auth_algorithm: AuthAlgorithm,
    /// HS256 key for auth tokens; empty means a random key per process.
    pub auth_key: String,
    /// PEM file of the private key that signs tokens (RS256, ES256).
    pub auth_private_key_file: String,
    /// PEM file of the public key that verifies tokens (RS256, ES256).
    pub auth_public_key_file: String,
    /// Seconds until a token signed without `exp` expires.
    pub auth_default_expiry_s: u64,
    /// Seconds of clock skew allowed when checking `exp`, `nbf` and `iat`.
    pub auth_leeway_s: u64,
    /// Refuse tokens that carry no `exp` claim.
    pub auth_require_exp: bool,
    /// Longest auth token accepted, in bytes.
    pub auth_max_token_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: "0.0.0.0".into(),
            // SocketCluster's default port, so existing client configs work unchanged.
            port: 8000,
            path: "/socketcluster/".into(),
            // Loopback only: counters and plugin file paths are for operators on this machine
            // (or a scraper through a tunnel), never for the internet the public port faces.
            admin_host: "127.0.0.1".into(),
            // The port after SocketCluster's 8000, easy to remember beside it.
            admin_port: 8001,
            admin_token: String::new(),
            workers: 0,
            brokers: 0,
            broker: "memory".into(),
            protocol: ProtocolMode::Auto,
            // SocketCluster's defaults (v14): ping every 8 s, drop after 20 s of silence.
            ping_interval_ms: 8_000,
            ping_timeout_ms: 20_000,
            handshake_timeout_ms: 10_000,
            // Long enough for a slow mobile link, short enough that trickling clients cannot pile up.
            upgrade_timeout_ms: 10_000,
            // Room for the ~1 MB payloads real apps send, while bounding one socket's read memory.
            max_message_bytes: 2 * 1024 * 1024,
            // Far above any real channel name; bounds the channel tables' key memory.
            max_channel_name_bytes: 1024,
            // The SocketCluster 14 framework's `socketChannelLimit` default.
            max_channels_per_socket: 1000,
            // Below the 20,000 open files a process may hold on the reference machines.
            max_connections: 19_500,
            // A twentieth of the slots: one address cannot take the gateway, while a large
            // office or carrier NAT (hundreds of users behind one address) still fits.
            max_connections_per_ip: 1_000,
            // Far above what reconnecting clients do (SocketCluster backs off for seconds),
            // far below what a script opening sockets in a loop does.
            accept_rate_per_ip: 100,
            // About 10 s of a 100 msg/s channel; at most a few MB per socket for small frames.
            outbound_queue_frames: 1024,
            // Four of the largest messages (`max_message_bytes`), and thousands of ordinary
            // frames; a socket that lets this much pile up is not reading.
            outbound_queue_bytes: 8 * 1024 * 1024,
            // A bound on what hostile sockets can pin together (128 of them at the largest
            // message), far above what ordinary traffic holds: a socket in ordinary traffic
            // holds under 32 KiB, which is not even counted.
            max_buffered_bytes: 256 * 1024 * 1024,
            slow_consumer: SlowConsumerPolicy::Disconnect,
            allow_client_publish: true,
            // 512 holds any SocketCluster control message and typical small events in one read;
            // larger frames grow the buffer on demand. Idle sockets hold no read buffer, so this
            // only sizes the short-lived one each read allocates (a small-size cache hit in the
            // allocator).
            read_buffer_bytes: 512,
            // Enough to coalesce a burst of small frames into one write syscall.
            write_buffer_bytes: 16 * 1024,
            public_dir: "public".into(),
            // Dotfiles are configuration and secrets (`.env`, `.git`), not pages.
            public_dotfiles: false,
            // A link out of the folder serves what the folder's owner never published.
            public_outside_links: false,
            // SocketCluster's default: every origin.
            origins: "*:*".into(),
            // Off: which plugins run, and how often they are called, is for the operator
            // (`GET /plugins`), not for every client of a production gateway.
            public_plugin_status: false,
            shutdown_grace_ms: 5_000,
            log: "info".into(),
            plugins_dir: "plugins".into(),
            // Saving a plugin should be enough to run it, as with a script server.
            plugins_watch: true,
            dev: false,
            // Where `scgate new-plugin` writes projects.
            dev_src: "plugins".into(),
            // Far above a real handler's microseconds; bounds what a looping plugin costs its worker.
            plugin_deadline_ms: 100,
            // Room for Python and JS runtimes (tens of MB), bounded per instance and worker.
            plugin_memory_bytes: 128 * 1024 * 1024,
            // The largest measured guests (Python, JS) are 12–18 MB; 64 MB leaves headroom.
            plugin_max_component_bytes: 64 * 1024 * 1024,
            // The user's cache folder, as wasmtime and Spin do: survives restarts, not reboots'
            // cleanups of /tmp, and is shared by every gateway the user runs.
            plugin_cache_dir: "~/.cache/scgate".into(),
            // Components built by the usual toolchains use a handful of tables and instances.
            plugin_max_tables: 64,
            plugin_max_table_elements: 1_000_000,
            plugin_max_instances: 64,
            auth_algorithm: AuthAlgorithm::Hs256,
            auth_key: String::new(),
            auth_private_key_file: String::new(),
            auth_public_key_file: String::new(),
            // SocketCluster's `authDefaultExpiry`.
            auth_default_expiry_s: 86_400,
            // Covers the clock skew of NTP-synced nodes; short enough that an expired token
            // is refused within seconds.
            auth_leeway_s: 5,
            // As SocketCluster: `exp` is checked when present. Tokens this gateway signs always
            // carry one; only other signers with the key can issue tokens that never expire.
            auth_require_exp: false,
            // A token with a few dozen claims is a few hundred bytes; the claims of an accepted
            // token travel with every plugin call the socket makes, so a client must not be able
            // to make them megabytes.
            auth_max_token_bytes: 8 * 1024,
        }
    }
}
