//! What a plugin instance's store holds, and the host imports (`wit` interface `host`): every
//! import records an [`Action`] that the gateway applies after the call, or answers from the
//! shared key-value store. What one call may hand the host is bounded.

use super::bindings::{host, types};
use super::kv::Kv;
use crate::hooks::{Action, Actions};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Most actions (publishes, transmits, …) one call may ask for.
pub const MAX_ACTIONS_PER_CALL: usize = 10_000;
/// Most bytes of action payloads one call may hand over.
pub const MAX_ACTION_BYTES_PER_CALL: usize = 16 * 1024 * 1024;
/// Bytes of stdout/stderr kept per instance for the log (only with the stub WASI context);
/// past it the guest's writes fail, which bounds what a chatty guest costs.
const OUTPUT_CAPACITY: usize = 1024 * 1024;

/// Resource caps of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: usize,
    pub tables: usize,
    pub table_elements: usize,
    pub instances: usize,
    pub deadline_ms: u64,
}

/// The state of one plugin instance's store.
pub struct HostState {
    plugin: Arc<str>,
    limits: StoreLimits,
    kv: Arc<Kv>,
    actions: Actions,
    action_bytes: usize,
    wasi: WasiCtx,
    table: ResourceTable,
    output: MemoryOutputPipe,
    output_logged: usize,
    /// The socket the current call is about, if any: auth tokens can only be set on it.
    caller: Option<Arc<str>>,
}

impl HostState {
    pub fn new(plugin: Arc<str>, limits: &Limits, kv: Arc<Kv>) -> Self {
        let output = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        // The stub WASI context: no files, no sockets, no environment, no arguments; stdout and
        // stderr go to the log. Only linked for plugins that opt in.
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .build();
        HostState {
            plugin,
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .tables(limits.tables)
                .table_elements(limits.table_elements)
                .instances(limits.instances)
                .memories(limits.instances)
                .build(),
            kv,
            actions: Actions::default(),
            action_bytes: 0,
            wasi,
            table: ResourceTable::new(),
            output,
            output_logged: 0,
            caller: None,
        }
    }

    /// Starts a call about `caller` (or about no socket).
    pub fn begin_call(&mut self, caller: Option<Arc<str>>) {
        self.caller = caller;
    }

    fn require_caller(&self, socket_id: &str) -> Result<(), types::Error> {
        if self.caller.as_deref() == Some(socket_id) {
            return Ok(());
        }
        Err(types::Error {
            name: "InvalidActionError".into(),
            message: "auth tokens can only be set or removed for the socket of the current call"
                .into(),
            extra: None,
        })
    }

    /// The store's resource limiter.
    pub fn limiter(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    /// Takes the actions the last call asked for, and logs what it printed.
    pub fn finish_call(&mut self) -> Actions {
        self.action_bytes = 0;
        let printed = self.output.contents();
        if printed.len() > self.output_logged {
            let text = String::from_utf8_lossy(&printed[self.output_logged..]);
            for line in text.lines().filter(|l| !l.is_empty()) {
                tracing::info!(plugin = %self.plugin, "{line}");
            }
            self.output_logged = printed.len();
        }
        std::mem::take(&mut self.actions)
    }

    fn record(&mut self, bytes: usize, action: Action) -> Result<(), types::Error> {
        if self.actions.0.len() >= MAX_ACTIONS_PER_CALL {
            return Err(limit(format!(
                "more than {MAX_ACTIONS_PER_CALL} host calls in one plugin call"
            )));
        }
        if self.action_bytes + bytes > MAX_ACTION_BYTES_PER_CALL {
            return Err(limit(format!(
                "more than {MAX_ACTION_BYTES_PER_CALL} bytes handed over in one plugin call"
            )));
        }
        self.action_bytes += bytes;
        self.actions.0.push(action);
        Ok(())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn limit(message: String) -> types::Error {
    types::Error {
        name: "PluginLimitError".into(),
        message,
        extra: None,
    }
}

fn json(data: String) -> Result<Box<RawValue>, types::Error> {
    RawValue::from_string(data).map_err(|e| types::Error {
        name: "InvalidArgumentsError".into(),
        message: format!("data is not valid JSON: {e}"),
        extra: None,
    })
}

fn kv_error(e: super::kv::KvError) -> types::Error {
    types::Error {
        name: "KvError".into(),
        message: e.to_string(),
        extra: None,
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn publish(&mut self, channel: String, data: String) -> Result<(), types::Error> {
        let bytes = channel.len() + data.len();
        let data = json(data)?;
        self.record(bytes, Action::Publish { channel, data })
    }

    fn transmit(
        &mut self,
        socket_id: String,
        event: String,
        data: String,
    ) -> Result<(), types::Error> {
        let bytes = event.len() + data.len();
        let data = Some(json(data)?);
        self.record(
            bytes,
            Action::Transmit {
                socket: Some(socket_id),
                event,
                data,
            },
        )
    }

    fn kick_out(
        &mut self,
        socket_id: String,
        channel: String,
        message: String,
    ) -> Result<(), types::Error> {
        let bytes = channel.len() + message.len();
        self.record(
            bytes,
            Action::KickOut {
                socket: Some(socket_id),
                channel,
                message,
            },
        )
    }

    fn disconnect(
        &mut self,
        socket_id: String,
        code: u16,
        reason: String,
    ) -> Result<(), types::Error> {
        self.record(
            reason.len(),
            Action::Disconnect {
                socket: Some(socket_id),
                code,
                reason,
            },
        )
    }

    fn set_auth_token(&mut self, socket_id: String, claims: String) -> Result<(), types::Error> {
        self.require_caller(&socket_id)?;
        if !claims.trim_start().starts_with('{') {
            return Err(types::Error {
                name: "InvalidArgumentsError".into(),
                message: "auth token claims must be a JSON object".into(),
                extra: None,
            });
        }
        json(claims.clone())?;
        self.record(
            claims.len(),
            Action::SetAuthToken {
                socket: Some(socket_id),
                claims,
            },
        )
    }

    fn deauthenticate(&mut self, socket_id: String) -> Result<(), types::Error> {
        self.require_caller(&socket_id)?;
        self.record(
            0,
            Action::Deauthenticate {
                socket: Some(socket_id),
            },
        )
    }

    fn kv_get(&mut self, key: String) -> Result<Option<String>, types::Error> {
        self.kv.get(&key).map_err(kv_error)
    }

    fn kv_set(&mut self, key: String, value: String) -> Result<(), types::Error> {
        self.kv.set(&key, value).map_err(kv_error)
    }

    fn kv_delete(&mut self, key: String) -> Result<bool, types::Error> {
        self.kv.delete(&key).map_err(kv_error)
    }

    fn kv_incr(&mut self, key: String, by: i64) -> Result<i64, types::Error> {
        self.kv.incr(&key, by).map_err(kv_error)
    }

    fn log(&mut self, level: host::Level, message: String) {
        let plugin = &*self.plugin;
        match level {
            host::Level::Trace => tracing::trace!(plugin, "{message}"),
            host::Level::Debug => tracing::debug!(plugin, "{message}"),
            host::Level::Info => tracing::info!(plugin, "{message}"),
            host::Level::Warn => tracing::warn!(plugin, "{message}"),
            host::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}
