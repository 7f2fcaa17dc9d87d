//! The user-facing text of every setting, shared by `scgate gen-config` and `scgate serve --help`.
//!
//! Each entry says what the setting does, which values it accepts, and what the unusual values
//! (0, empty) mean. Defaults are not written here: they are read from `Settings::default()` so
//! the text can never disagree with the code. A test checks that every `Settings` field has
//! exactly one entry here and that every entry names a field.

/// `(key, doc text)` for every `Settings` field, in the order `gen-config` groups them.
pub const SETTING_DOCS: &[(&str, &str)] = &[
    // Listener.
    (
        "host",
        "Address to listen on: an IPv4 or IPv6 address, or a host name. \
         0.0.0.0 listens on every IPv4 interface; 127.0.0.1 only on this machine.",
    ),
    (
        "port",
        "TCP port to listen on, 0 to 65535. 0 picks a free port.",
    ),
    (
        "path",
        "Exact URL path of the SocketCluster WebSocket endpoint; must start with '/'. \
         Clients connect to it with their `path` option. Other paths are plain HTTP \
         (static files, and /health, which answers {\"status\":\"ok\"} and nothing more).",
    ),
    (
        "public_dotfiles",
        "Whether static paths with a segment starting with a dot (/.env, /.git/config, \
         /.well-known/…) are served. Allowed: true or false. With false they get 404.",
    ),
    (
        "public_outside_links",
        "Whether a static file reached through a symbolic link that leads out of public_dir is \
         served. Allowed: true or false. With false it gets 404; links inside the folder work.",
    ),
    (
        "origins",
        "Origins allowed to open a WebSocket, as SocketCluster's origins option: entries \
         HOST:PORT separated by spaces or commas, either part * (\"*:*\" allows every origin). \
         The port is the origin's own, else 443 for https, else 80. A client that sends no \
         Origin (not a browser) counts as host null, port 80. Others get HTTP 403.",
    ),
    (
        "admin_host",
        "Address of the admin listener, which serves /health with every counter, /metrics \
         (Prometheus) and /plugins (the plugin report, file paths included). 127.0.0.1 keeps \
         it on this machine; an empty string disables the admin listener.",
    ),
    (
        "admin_port",
        "TCP port of the admin listener, 0 to 65535. 0 picks a free port (`scgate serve` \
         prints it on the line after READY).",
    ),
    (
        "admin_token",
        "Bearer token every admin request must carry (`Authorization: Bearer TOKEN`); \
         others get HTTP 401. An empty string asks for none: then rely on admin_host. \
         Prefer SCGATE_ADMIN_TOKEN to writing it in a file.",
    ),
    (
        "public_dir",
        "Folder of static files served over HTTP on the same port, relative to the working \
         directory. An empty string disables static files.",
    ),
    (
        "public_plugin_status",
        "Answer GET /status/plugins on this port for pages served to clients (the sample page \
         in public/ shows it live): each plugin's name, state, version hash, live since, loads, \
         calls, errors and registrations, without file paths or error messages. Dev mode \
         answers it whether or not this is on, with the error messages (a failed build's \
         compiler output). Off: 404.",
    ),
    // Threads and brokers.
    (
        "workers",
        "Worker threads, each with its own sockets and its own instance of the application logic. \
         0 to 64; 0 means one per CPU core.",
    ),
    (
        "brokers",
        "In-process broker shards: the channel table is split by a hash of the channel name. \
         0 means one per worker.",
    ),
    (
        "broker",
        "Broker backend. Allowed: \"memory\" (in-process; channels reach only this node), a \
         Redis URL such as \"redis://127.0.0.1:6379\", or a NATS URL such as \
         \"nats://127.0.0.1:4222\" (channels and the plugin KV shared by every node on that \
         engine; at-most-once; the NATS KV needs JetStream).",
    ),
    // Protocol and timeouts.
    (
        "protocol",
        "Heartbeat protocol. Allowed: \"1\" (socketcluster-client 14 and older: ping #1, \
         pong #2), \"2\" (client 15 and newer: empty-string ping and pong), or \"auto\" \
         (send both until a socket's first pong shows its generation).",
    ),
    (
        "ping_interval_ms",
        "Milliseconds between server pings. At least 1, and less than ping_timeout_ms.",
    ),
    (
        "ping_timeout_ms",
        "Milliseconds without any inbound message before a socket is closed with code 4001. \
         Sent to clients as pingTimeout. Must be greater than ping_interval_ms.",
    ),
    (
        "handshake_timeout_ms",
        "Milliseconds a socket may take to send #handshake before it is closed with code 4005. \
         At least 1.",
    ),
    (
        "upgrade_timeout_ms",
        "Milliseconds a client may take to send its HTTP request headers, WebSocket upgrade \
         included. At least 1.",
    ),
    (
        "shutdown_grace_ms",
        "Milliseconds to let sockets drain after SIGINT or SIGTERM before exiting. \
         0 exits at once.",
    ),
    // Limits.
    (
        "max_message_bytes",
        "Largest inbound WebSocket message in bytes; a larger one closes the socket with \
         code 1009. At least 1024.",
    ),
    (
        "max_channel_name_bytes",
        "Longest channel name in bytes; a longer subscribe or publish is refused. At least 1.",
    ),
    (
        "max_channels_per_socket",
        "Most channels one socket may subscribe to at once; further subscribes are refused. \
         At least 1.",
    ),
    (
        "max_connections",
        "Most simultaneous TCP connections; past it new ones get HTTP 503. At least 1. \
         Keep it below the process's open-file limit (ulimit -n).",
    ),
    (
        "max_connections_per_ip",
        "Most simultaneous connections from one client address (an IPv6 address counts by its \
         /64); past it new ones get HTTP 429. 0 means no limit. Behind a proxy every client \
         has the proxy's address: set 0 there and limit at the proxy.",
    ),
    (
        "accept_rate_per_ip",
        "Most new connections one client address (IPv6: its /64) may open per second, with a \
         burst of one second's worth; past it new ones get HTTP 429. 0 means no limit.",
    ),
    // Slow consumers and buffers.
    (
        "outbound_queue_frames",
        "Frames a socket's outbound queue holds before the slow-consumer policy applies. \
         At least 1.",
    ),
    (
        "outbound_queue_bytes",
        "Bytes a socket's outbound queue holds (every frame counts: replies, handshake and auth \
         frames, pings, deliveries) before the slow-consumer policy applies. A frame larger \
         than this is still queued when the queue is empty. At least 1.",
    ),
    (
        "max_buffered_bytes",
        "Bytes all sockets together may buffer in messages still being read (fragments, a \
         large frame still arriving) and in output their peers have not taken. Past it the \
         largest holders are closed: code 1009 when most of what a socket holds is a message \
         being read, 1013 when it is output; counted in buffer_evictions. A socket holding \
         under 32 KiB is not counted. At least 1048576 (1 MiB).",
    ),
    (
        "slow_consumer",
        "What happens when a socket's outbound queue is full. Allowed: \"disconnect\" (close \
         the socket with code 4100; the client reconnects and notices the gap) or \
         \"drop-newest\" (keep the socket, drop the message that did not fit, count the drop).",
    ),
    (
        "read_buffer_bytes",
        "The most one read takes from a socket, and the size of its read buffer, which exists \
         only while bytes are being read: it is freed once they are handled, so idle sockets \
         hold none. A larger frame grows the buffer to the frame's size. At least 256.",
    ),
    (
        "write_buffer_bytes",
        "Bytes of queued frames a socket frames ahead into one write; the rest wait in its \
         queue. Everything queued is written as soon as the socket takes it. 0 writes one \
         frame at a time.",
    ),
    // Clients.
    (
        "allow_client_publish",
        "Whether clients may #publish to channels. Allowed: true or false. With false only \
         server-side code publishes to channels.",
    ),
    // Logging.
    (
        "log",
        "Log filter in tracing EnvFilter syntax, for example \"info\" or \
         \"scgate=debug,warn\". The RUST_LOG environment variable overrides it.",
    ),
    // Plugins.
    (
        "plugins_dir",
        "Folder whose *.wasm components are loaded as plugins (not recursive). Each plugin's \
         settings come from the [plugins.NAME] table, NAME being the file name without .wasm. \
         Empty disables it.",
    ),
    (
        "plugins_watch",
        "Reload plugins while running: a new or changed *.wasm in plugins_dir (or a changed \
         `file`) goes live on every worker at its next event, a deleted one is unloaded. A \
         version that fails to load never goes live; the old one keeps serving. SIGHUP reloads \
         the [plugins.NAME] tables and plugin settings whether or not this is on.",
    ),
    (
        "dev",
        "Development mode: when the source of a Rust plugin under dev_src changes, rebuild it \
         (cargo build --release --target wasm32-wasip2) and reload it. Needs cargo; implies \
         plugins_watch. A crate is installed as the plugin of the same name (its file, or \
         plugins_dir/NAME.wasm if it has a [plugins.NAME] table).",
    ),
    (
        "dev_src",
        "Folder searched (recursively) for Rust plugin sources in dev mode.",
    ),
    (
        "plugin_deadline_ms",
        "CPU deadline of one plugin call in milliseconds. A call past it is interrupted, \
         answered with an error, and the instance is replaced.",
    ),
    (
        "plugin_memory_bytes",
        "Most linear memory one plugin instance may grow to, in bytes. A plugin that needs \
         more fails that call and is replaced.",
    ),
    (
        "plugin_max_component_bytes",
        "Largest plugin component file accepted, in bytes; larger files are refused unread.",
    ),
    (
        "plugin_cache_dir",
        "Folder of the on-disk cache of compiled plugins, so a restart loads big (Python, JS) \
         components in milliseconds instead of compiling them for seconds. Entries are keyed by \
         the component's SHA-256 and the engine's version and settings; a stale or corrupt \
         entry is recompiled. A leading ~/ is the home folder. Empty disables the cache.",
    ),
    (
        "plugin_max_tables",
        "Most tables one plugin instance may create.",
    ),
    (
        "plugin_max_table_elements",
        "Most elements one table of a plugin instance may hold.",
    ),
    (
        "plugin_max_instances",
        "Most core and component instances one plugin instance may create.",
    ),
    // Auth.
    (
        "auth_algorithm",
        "Algorithm of the auth tokens the gateway signs and accepts; a token naming any other \
         algorithm (or \"none\") is rejected. Allowed: \"HS256\" (a shared auth_key, as \
         SocketCluster does by default), \"RS256\" or \"ES256\" (auth_private_key_file and \
         auth_public_key_file).",
    ),
    (
        "auth_key",
        "Shared key that signs and verifies HS256 auth tokens, at least 32 bytes; the same \
         authKey lets Node SocketCluster servers accept the tokens. Empty means a random key \
         per process: tokens then do not survive a restart or work across nodes. Prefer \
         SCGATE_AUTH_KEY to keep it out of files.",
    ),
    (
        "auth_private_key_file",
        "PEM file of the private key that signs RS256 (RSA) or ES256 (P-256) tokens, \
         PKCS#8 or PKCS#1. Required for those algorithms; must be empty for HS256.",
    ),
    (
        "auth_public_key_file",
        "PEM file of the public key (SPKI) that verifies RS256 or ES256 tokens; it must match \
         the private key. Required for those algorithms; must be empty for HS256.",
    ),
    (
        "auth_default_expiry_s",
        "Seconds until a token expires when the claims a plugin signs carry no exp.",
    ),
    (
        "auth_leeway_s",
        "Seconds of clock skew allowed when checking a token's exp, nbf and iat, and when an \
         authenticated socket's token expires. 0 to 300.",
    ),
    (
        "auth_require_exp",
        "Whether tokens without an exp claim are refused (AuthTokenInvalidError \"jwt has no \
         exp\"). Allowed: true or false. SocketCluster accepts them; tokens this gateway signs \
         always carry exp.",
    ),
    (
        "auth_max_token_bytes",
        "Longest auth token accepted, in bytes; a longer one is refused unread \
         (AuthTokenInvalidError \"jwt longer than N bytes\"). At least 256.",
    ),
];
