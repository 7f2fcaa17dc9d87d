//! Resolving one validated `Settings`: defaults < TOML file < `SCGATE_*` env < flags.
//!
//! Every layer is a set of `(key, TOML value)` pairs laid over a table that starts as the
//! serialized defaults. Each pair is checked the moment it is laid down (is the key a setting,
//! does the value fit the field), so an error names the key and the file, variable or flag it
//! came from. After the last layer the table becomes a `Settings` and is validated as a whole.

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    default_table, env_var, flag_name, invalid, ConfigError, Invalid, Settings, ENV_PREFIX,
    PLUGINS_TABLE,
};

/// Smallest `max_message_bytes`: a `#handshake` carrying a signed JWT must always fit.
const MIN_MESSAGE_BYTES: u64 = 1024;
/// Smallest `read_buffer_bytes`: below this a single small frame needs several reads.
const MIN_READ_BUFFER_BYTES: u64 = 256;
/// Smallest `max_buffered_bytes`: a few of the holdings the budget counts (32 KiB each at the
/// least), so a budget this small still tells a large holder from an ordinary one.
const MIN_BUFFERED_BYTES: u64 = 1024 * 1024;
/// Smallest `auth_max_token_bytes`: a signed token with a handful of claims must fit.
const MIN_TOKEN_BYTES: u64 = 256;
/// Most worker threads: each holds its own instance of every plugin, so past a few dozen cores
/// memory grows faster than throughput; 0 (one per core) is capped to this too.
const MAX_WORKERS: usize = 64;

/// The outcome of resolving: the settings, and the data kept beside them.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The validated settings.
    pub settings: Settings,
    /// The file's `[plugins]` table (`NAME` → that plugin's table); empty if the file has none.
    pub plugins: toml::Table,
    /// Things worth telling the user that do not stop the gateway (an unknown `SCGATE_*` variable).
    pub warnings: Vec<String>,
}

/// Builds a [`Resolved`] layer by layer; call the layers in precedence order, lowest first.
#[derive(Clone, Debug)]
pub struct Loader {
    table: toml::Table,
    plugins: toml::Table,
    warnings: Vec<String>,
    /// Key → where its current value came from, to say so if validation rejects it.
    origins: BTreeMap<String, String>,
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

impl Loader {
    /// A loader holding only the defaults.
    pub fn new() -> Self {
        Loader {
            table: default_table(),
            plugins: toml::Table::new(),
            warnings: Vec::new(),
            origins: BTreeMap::new(),
        }
    }

    /// Lays the TOML file at `path` over the current values.
    pub fn file(self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.toml_str(&text, &format!("config file {}", path.display()))
    }

    /// Lays a TOML document over the current values; `origin` names it in errors.
    pub fn toml_str(mut self, text: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut doc: toml::Table = toml::from_str(text).map_err(|source| ConfigError::Syntax {
            origin: origin.to_owned(),
            source,
        })?;
        if let Some(plugins) = doc.remove(PLUGINS_TABLE) {
            self.add_plugins(plugins, origin)?;
        }
        for (key, value) in doc {
            self.set(key, value, origin)?;
        }
        Ok(self)
    }

    /// Lays `SCGATE_<KEY>` variables over the current values. Each value is parsed as the type
    /// of the setting's default (integer, `true`/`false`, or string). Variables without the
    /// prefix are ignored; ones with it that name no setting become a warning.
    pub fn env<I, K, V>(mut self, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (name, text) in vars {
            let (name, text) = (name.as_ref(), text.as_ref());
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            let origin = format!("environment variable {name}");
            match self.table.get(&key) {
                Some(default) if env_var(&key) == name => {
                    let value =
                        parse_env(default, text).map_err(|reason| ConfigError::BadValue {
                            key: key.clone(),
                            origin: origin.clone(),
                            reason,
                        })?;
                    self.set(key, value, &origin)?;
                }
                _ => self
                    .warnings
                    .push(format!("ignoring {origin}: it names no setting")),
            }
        }
        Ok(self)
    }

    /// Lays command-line values (key → typed value) over the current values.
    pub fn flags(mut self, flags: toml::Table) -> Result<Self, ConfigError> {
        for (key, value) in flags {
            let origin = format!("flag --{}", flag_name(&key));
            self.set(key, value, &origin)?;
        }
        Ok(self)
    }

    /// Turns the layered values into validated settings.
    pub fn finish(self) -> Result<Resolved, ConfigError> {
        // Every value was type-checked as it was set, so this only fails on a bug in `set`.
        let settings: Settings =
            toml::Value::Table(self.table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::BadValue {
                    key: String::new(),
                    origin: "the merged settings".into(),
                    reason: e.message().to_owned(),
                })?;
        if let Err(ConfigError::Invalid(mut all)) = settings.validate() {
            for invalid in &mut all {
                invalid.origin = self.origins.get(invalid.key).cloned();
            }
            return Err(ConfigError::Invalid(all));
        }
        Ok(Resolved {
            settings,
            plugins: self.plugins,
            warnings: self.warnings,
        })
    }

    /// Sets one key after checking that it is a setting and that the value fits its field.
    fn set(&mut self, key: String, value: toml::Value, origin: &str) -> Result<(), ConfigError> {
        if !self.table.contains_key(&key) {
            return Err(ConfigError::UnknownKey {
                key,
                origin: origin.to_owned(),
            });
        }
        // Deserializing a one-key table checks the type and range with the field's own serde
        // rules (u16 for port, the enum names for protocol); the other fields take defaults.
        let mut one = toml::Table::new();
        one.insert(key.clone(), value.clone());
        if let Err(e) = toml::Value::Table(one).try_into::<Settings>() {
            return Err(ConfigError::BadValue {
                key,
                origin: origin.to_owned(),
                reason: e.message().to_owned(),
            });
        }
        self.origins.insert(key.clone(), origin.to_owned());
        self.table.insert(key, value);
        Ok(())
    }

    fn add_plugins(&mut self, plugins: toml::Value, origin: &str) -> Result<(), ConfigError> {
        let bad = |reason: String| ConfigError::BadValue {
            key: PLUGINS_TABLE.into(),
            origin: origin.to_owned(),
            reason,
        };
        let toml::Value::Table(plugins) = plugins else {
            return Err(bad("expected [plugins.NAME] tables".into()));
        };
        for (name, table) in plugins {
            if !table.is_table() {
                return Err(bad(format!("plugins.{name} must be a table")));
            }
            self.plugins.insert(name, table);
        }
        Ok(())
    }
}

/// Parses an environment variable's text as the TOML type of the setting's default.
fn parse_env(default: &toml::Value, text: &str) -> Result<toml::Value, String> {
    match default {
        toml::Value::Integer(_) => text
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected an integer, got {text:?}")),
        toml::Value::Boolean(_) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(toml::Value::Boolean(true)),
            "false" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected true or false, got {text:?}")),
        },
        _ => Ok(toml::Value::String(text.to_owned())),
    }
}

/// Resolves settings from an optional file, the given environment, and flag values.
pub fn resolve<I, K, V>(
    file: Option<&Path>,
    env: I,
    flags: toml::Table,
) -> Result<Resolved, ConfigError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut loader = Loader::new();
    if let Some(path) = file {
        loader = loader.file(path)?;
    }
    loader.env(env)?.flags(flags)?.finish()
}

/// The process's `SCGATE_*` variables; one whose value is not UTF-8 is an error naming it.
pub fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|n| n.starts_with(ENV_PREFIX)) else {
            continue;
        };
        let value = value.into_string().map_err(|_| ConfigError::BadValue {
            key: name[ENV_PREFIX.len()..].to_ascii_lowercase(),
            origin: format!("environment variable {name}"),
            reason: "not valid UTF-8".into(),
        })?;
        vars.push((name.to_owned(), value));
    }
    Ok(vars)
}

impl Settings {
    /// Checks the rules no type expresses; returns every broken rule, not just the first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = self;
        // (key, value, smallest allowed value)
        let minimums: [(&'static str, u64, u64); 18] = [
            ("plugin_deadline_ms", s.plugin_deadline_ms, 1),
            ("plugin_memory_bytes", s.plugin_memory_bytes as u64, 65_536),
            (
                "plugin_max_component_bytes",
                s.plugin_max_component_bytes as u64,
                1,
            ),
            ("plugin_max_tables", s.plugin_max_tables as u64, 1),
            ("plugin_max_instances", s.plugin_max_instances as u64, 1),
            ("auth_default_expiry_s", s.auth_default_expiry_s, 1),
            (
                "auth_max_token_bytes",
                s.auth_max_token_bytes as u64,
                MIN_TOKEN_BYTES,
            ),
            ("ping_interval_ms", s.ping_interval_ms, 1),
            ("handshake_timeout_ms", s.handshake_timeout_ms, 1),
            ("upgrade_timeout_ms", s.upgrade_timeout_ms, 1),
            (
                "max_message_bytes",
                s.max_message_bytes as u64,
                MIN_MESSAGE_BYTES,
            ),
            ("max_channel_name_bytes", s.max_channel_name_bytes as u64, 1),
            (
                "max_channels_per_socket",
                s.max_channels_per_socket as u64,
                1,
            ),
            ("max_connections", s.max_connections as u64, 1),
            ("outbound_queue_frames", s.outbound_queue_frames as u64, 1),
            ("outbound_queue_bytes", s.outbound_queue_bytes as u64, 1),
            (
                "max_buffered_bytes",
                s.max_buffered_bytes as u64,
                MIN_BUFFERED_BYTES,
            ),
            (
                "read_buffer_bytes",
                s.read_buffer_bytes as u64,
                MIN_READ_BUFFER_BYTES,
            ),
        ];
        let mut all: Vec<Invalid> = minimums
            .into_iter()
            .filter(|(_, value, min)| value < min)
            .map(|(key, value, min)| invalid(key, format!("must be at least {min}, got {value}")))
            .collect();
        if !s.path.starts_with('/') {
            all.push(invalid(
                "path",
                format!("must start with '/', got {:?}", s.path),
            ));
        }
        if s.ping_interval_ms > 0 && s.ping_interval_ms >= s.ping_timeout_ms {
            let (interval, timeout) = (s.ping_interval_ms, s.ping_timeout_ms);
            let reason = format!("must be less than ping_timeout_ms ({timeout}), got {interval}");
            all.push(invalid("ping_interval_ms", reason));
        }
        let mut origins = s.origins.split([' ', ',']).filter(|e| !e.is_empty());
        if let Some(bad) = origins.find(|e| !e.contains(':')) {
            let reason = format!("entries are HOST:PORT, either part *, got {bad:?}");
            all.push(invalid("origins", reason));
        }
        if s.workers > MAX_WORKERS {
            let reason = format!("must be at most {MAX_WORKERS}, got {}", s.workers);
            all.push(invalid("workers", reason));
        }
        if let Err(reason) = super::broker_kind::parse(&s.broker) {
            all.push(invalid("broker", reason));
        }
        all.extend(super::auth_rules::check(s));
        if all.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(all))
        }
    }

    /// Worker threads to start: `workers`, or one per CPU core (at most 64) when it is 0.
    pub fn effective_workers(&self) -> usize {
        if self.workers != 0 {
            return self.workers;
        }
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WORKERS)
    }

    /// Broker shards to start: `brokers`, or one per worker when it is 0.
    pub fn effective_brokers(&self) -> usize {
        match self.brokers {
            0 => self.effective_workers(),
            n => n,
        }
    }
}
