//! The command line: `scgate serve` with one flag per setting, `scgate gen-config`, and the
//! plugin author's `scgate check-plugin`, `scgate new-plugin` and `scgate plugins`.
//!
//! Flags are thin: each is an `Option` of the setting's own type, named after its key in kebab
//! case, and its help text is the setting's doc from `config::docs` plus its `SCGATE_*` variable
//! and its default. Turning flags into settings is `config::load`'s job; this file only hands
//! over the flags that were given, as a TOML table (the top layer of the precedence).

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Serialize;

use crate::config::{self, AuthAlgorithm, ConfigError, ProtocolMode, Resolved, SlowConsumerPolicy};
use crate::plugin::scaffold::{self, Lang};

/// `scgate`: a WebSocket pub/sub gateway that speaks the SocketCluster protocol.
#[derive(Debug, Parser)]
#[command(name = "scgate", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `scgate`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway. Settings come from defaults < config file < SCGATE_* variables < flags.
    // Boxed: the flags are hundreds of bytes, the other subcommands none.
    Serve(Box<ServeArgs>),
    /// Print a scgate.toml with every setting, documented and set to its default.
    GenConfig,
    /// Load a plugin component exactly as `serve` would and report its roles, imports, events,
    /// middleware stages and load time. Exits 0 if it is valid, 1 with the reason if not.
    CheckPlugin(CheckPluginArgs),
    /// Write a new, buildable plugin project from a template, and print the next steps.
    NewPlugin(NewPluginArgs),
    /// List the plugins of a running gateway (its `GET /plugins`): version, when it went live,
    /// what it registered, call and error counts, last load error.
    Plugins(PluginsArgs),
}

/// The arguments of `scgate plugins`.
#[derive(Clone, Debug, Args)]
pub struct PluginsArgs {
    /// The gateway's admin listener, `HOST:PORT`. [default: admin_host and admin_port of
    /// scgate.toml / SCGATE_ADMIN_* (127.0.0.1:8001)]; the token is admin_token
    /// (SCGATE_ADMIN_TOKEN)
    #[arg(long, value_name = "HOST:PORT")]
    pub address: Option<String>,
    /// Print the report as JSON, as the gateway sent it.
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `scgate check-plugin`.
#[derive(Clone, Debug, Args)]
pub struct CheckPluginArgs {
    /// The component (`.wasm`). Its name is the `[plugins.NAME]` table whose `file` is this file,
    /// else the file name without `.wasm`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Link the stub WASI context, as `wasi = true` in the plugin's table does (needed by
    /// components built from Rust std, Python or JS).
    #[arg(long)]
    pub wasi: bool,
    /// A scgate.toml whose plugin_* limits apply and whose `[plugins.NAME]` table configures the
    /// plugin (`wasi`, and the JSON its `init` gets). Without it: the defaults, and `{}`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl CheckPluginArgs {
    /// The settings and plugin tables the check uses: the defaults < the `--config` file (only
    /// if given; no implicit scgate.toml) < `env`.
    pub fn resolve<I, K, V>(&self, env: I) -> Result<Resolved, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        config::resolve(self.config.as_deref(), env, toml::Table::new())
    }
}

/// The arguments of `scgate new-plugin`.
#[derive(Clone, Debug, Args)]
pub struct NewPluginArgs {
    /// The plugin's name: lowercase letters, digits and '-', starting with a letter. It is the
    /// package name, the `[plugins.NAME]` table, and the event the sample handler answers.
    #[arg(value_name = "NAME", value_parser = scaffold::validate_name)]
    pub name: String,
    /// The language of the template.
    #[arg(long, value_name = "LANG", value_parser = lang, help = lang_help())]
    pub lang: Lang,
    /// Where to write the project; it must not exist or be empty. [default: plugins/NAME]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl NewPluginArgs {
    /// The project folder: `--dir`, else `plugins/NAME`.
    pub fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| Path::new("plugins").join(&self.name))
    }
}

/// The names `--lang` accepts: every [`Lang`] this build has a template for.
fn lang_names() -> Vec<String> {
    use clap::ValueEnum;
    Lang::value_variants()
        .iter()
        .filter_map(ValueEnum::to_possible_value)
        .map(|v| v.get_name().to_owned())
        .collect()
}

/// Parses `--lang`, naming what this build has when the value is something else.
fn lang(text: &str) -> Result<Lang, String> {
    use clap::ValueEnum;
    Lang::from_str(text, true).map_err(|_| {
        let names = lang_names();
        let verb = if names.len() == 1 { "is" } else { "are" };
        format!("only {} {verb} available in this version", names.join(", "))
    })
}

fn lang_help() -> String {
    format!(
        "The language of the template [possible values: {}]",
        lang_names().join(", ")
    )
}

/// The flags of `scgate serve`: a config file, then one optional override per setting.
///
/// Serializing this struct gives the setting fields only (`config` is skipped), `None` for each
/// flag not given.
#[derive(Clone, Debug, Default, Args, Serialize)]
pub struct ServeArgs {
    /// TOML config file. Without this flag, scgate.toml in the working directory is read if it
    /// exists; a file named here must exist.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    #[arg(long, value_name = "ADDR", help = help("host"))]
    pub host: Option<String>,
    #[arg(long, value_name = "PORT", help = help("port"))]
    pub port: Option<u16>,
    #[arg(long, value_name = "PATH", help = help("path"))]
    pub path: Option<String>,
    #[arg(long, value_name = "ADDR", help = help("admin_host"))]
    pub admin_host: Option<String>,
    #[arg(long, value_name = "PORT", help = help("admin_port"))]
    pub admin_port: Option<u16>,
    #[arg(long, value_name = "TOKEN", help = help("admin_token"))]
    pub admin_token: Option<String>,
    #[arg(long, value_name = "DIR", help = help("public_dir"))]
    pub public_dir: Option<String>,
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set, help = help("public_dotfiles"))]
    pub public_dotfiles: Option<bool>,
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set, help = help("public_outside_links"))]
    pub public_outside_links: Option<bool>,
    #[arg(long, value_name = "ORIGINS", help = help("origins"))]
    pub origins: Option<String>,
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set, help = help("public_plugin_status"))]
    pub public_plugin_status: Option<bool>,

    #[arg(long, value_name = "N", help = help("workers"))]
    pub workers: Option<usize>,
    #[arg(long, value_name = "N", help = help("brokers"))]
    pub brokers: Option<usize>,
    #[arg(long, value_name = "BACKEND", help = help("broker"))]
    pub broker: Option<String>,

    #[arg(long, value_name = "MODE", value_parser = enum_value::<ProtocolMode>, help = help("protocol"))]
    pub protocol: Option<ProtocolMode>,
    #[arg(long, value_name = "MS", help = help("ping_interval_ms"))]
    pub ping_interval_ms: Option<u64>,
    #[arg(long, value_name = "MS", help = help("ping_timeout_ms"))]
    pub ping_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS", help = help("handshake_timeout_ms"))]
    pub handshake_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS", help = help("upgrade_timeout_ms"))]
    pub upgrade_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS", help = help("shutdown_grace_ms"))]
    pub shutdown_grace_ms: Option<u64>,

    #[arg(long, value_name = "BYTES", help = help("max_message_bytes"))]
    pub max_message_bytes: Option<usize>,
    #[arg(long, value_name = "BYTES", help = help("max_channel_name_bytes"))]
    pub max_channel_name_bytes: Option<usize>,
    #[arg(long, value_name = "N", help = help("max_channels_per_socket"))]
    pub max_channels_per_socket: Option<usize>,
    #[arg(long, value_name = "N", help = help("max_connections"))]
    pub max_connections: Option<usize>,
    #[arg(long, value_name = "N", help = help("max_connections_per_ip"))]
    pub max_connections_per_ip: Option<usize>,
    #[arg(long, value_name = "N", help = help("accept_rate_per_ip"))]
    pub accept_rate_per_ip: Option<u32>,

    #[arg(long, value_name = "FRAMES", help = help("outbound_queue_frames"))]
    pub outbound_queue_frames: Option<usize>,
    #[arg(long, value_name = "BYTES", help = help("outbound_queue_bytes"))]
    pub outbound_queue_bytes: Option<usize>,
    #[arg(long, value_name = "BYTES", help = help("max_buffered_bytes"))]
    pub max_buffered_bytes: Option<usize>,
    #[arg(long, value_name = "POLICY", value_parser = enum_value::<SlowConsumerPolicy>, help = help("slow_consumer"))]
    pub slow_consumer: Option<SlowConsumerPolicy>,
    #[arg(long, value_name = "BYTES", help = help("read_buffer_bytes"))]
    pub read_buffer_bytes: Option<usize>,
    #[arg(long, value_name = "BYTES", help = help("write_buffer_bytes"))]
    pub write_buffer_bytes: Option<usize>,

    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set, help = help("allow_client_publish"))]
    pub allow_client_publish: Option<bool>,

    #[arg(long, value_name = "FILTER", help = help("log"))]
    pub log: Option<String>,

    #[arg(long, value_name = "DIR", help = help("plugins_dir"))]
    pub plugins_dir: Option<String>,
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set, help = help("plugins_watch"))]
    pub plugins_watch: Option<bool>,
    // `--dev` alone means `--dev true`.
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, help = help("dev"))]
    pub dev: Option<bool>,
    #[arg(long, value_name = "DIR", help = help("dev_src"))]
    pub dev_src: Option<String>,
    #[arg(long, value_name = "MS", help = help("plugin_deadline_ms"))]
    pub plugin_deadline_ms: Option<u64>,
    #[arg(long, value_name = "BYTES", help = help("plugin_memory_bytes"))]
    pub plugin_memory_bytes: Option<usize>,
    #[arg(long, value_name = "BYTES", help = help("plugin_max_component_bytes"))]
    pub plugin_max_component_bytes: Option<usize>,
    #[arg(long, value_name = "DIR", help = help("plugin_cache_dir"))]
    pub plugin_cache_dir: Option<String>,
    #[arg(long, value_name = "N", help = help("plugin_max_tables"))]
    pub plugin_max_tables: Option<usize>,
    #[arg(long, value_name = "N", help = help("plugin_max_table_elements"))]
    pub plugin_max_table_elements: Option<usize>,
    #[arg(long, value_name = "N", help = help("plugin_max_instances"))]
    pub plugin_max_instances: Option<usize>,
    #[arg(long, value_name = "ALG", value_parser = enum_value::<AuthAlgorithm>, help = help("auth_algorithm"))]
    pub auth_algorithm: Option<AuthAlgorithm>,
    #[arg(long, value_name = "KEY", help = help("auth_key"))]
    pub auth_key: Option<String>,
    #[arg(long, value_name = "FILE", help = help("auth_private_key_file"))]
    pub auth_private_key_file: Option<String>,
    #[arg(long, value_name = "FILE", help = help("auth_public_key_file"))]
    pub auth_public_key_file: Option<String>,
    #[arg(long, value_name = "SECONDS", help = help("auth_default_expiry_s"))]
    pub auth_default_expiry_s: Option<u64>,
    #[arg(long, value_name = "SECONDS", help = help("auth_leeway_s"))]
    pub auth_leeway_s: Option<u64>,
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set, help = help("auth_require_exp"))]
    pub auth_require_exp: Option<bool>,
    #[arg(long, value_name = "BYTES", help = help("auth_max_token_bytes"))]
    pub auth_max_token_bytes: Option<usize>,
}

impl ServeArgs {
    /// The config file to read: `--config` if given (it must then exist), else `scgate.toml`
    /// in `cwd` if it is a file, else none.
    pub fn config_file(&self, cwd: &Path) -> Option<PathBuf> {
        if let Some(explicit) = &self.config {
            return Some(explicit.clone());
        }
        let implicit = cwd.join(config::DEFAULT_CONFIG_FILE);
        implicit.is_file().then_some(implicit)
    }

    /// The flags that were given, as setting key → value: the top layer of the precedence.
    pub fn overrides(&self) -> Result<toml::Table, ConfigError> {
        let bad = |key: &str, reason: String| ConfigError::BadValue {
            key: key.to_owned(),
            origin: format!("flag --{}", config::flag_name(key)),
            reason,
        };
        // Through JSON so that each flag converts on its own and an error can name it: a usize
        // or u64 above i64::MAX is a valid flag but not a TOML integer.
        let given = serde_json::to_value(self).map_err(|e| bad("", e.to_string()))?;
        let mut table = toml::Table::new();
        for (key, value) in given.as_object().into_iter().flatten() {
            if value.is_null() {
                continue;
            }
            let value = toml::Value::try_from(value).map_err(|e| {
                bad(
                    key,
                    format!("{e}; the largest number allowed is {}", i64::MAX),
                )
            })?;
            table.insert(key.clone(), value);
        }
        Ok(table)
    }

    /// Resolves validated settings: defaults < config file < `env` < these flags.
    /// `cwd` is where the implicit `scgate.toml` is looked for.
    pub fn resolve<I, K, V>(&self, cwd: &Path, env: I) -> Result<Resolved, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let file = self.config_file(cwd);
        config::resolve(file.as_deref(), env, self.overrides()?)
    }
}

/// The help text of the flag for `key`: its doc, its environment variable and its default.
fn help(key: &str) -> String {
    let doc = config::doc(key).unwrap_or("(undocumented)");
    let default = config::default_text(key);
    let default = if default.is_empty() {
        "\"\"".to_owned()
    } else {
        default
    };
    format!(
        "{doc}\n[env: {}] [default: {default}]",
        config::env_var(key)
    )
}

/// Parses a flag value with the enum's own serde names, so flags accept exactly what the file
/// accepts, and the error lists the allowed values.
fn enum_value<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.into_deserializer();
    T::deserialize(de).map_err(|e| e.to_string())
}
