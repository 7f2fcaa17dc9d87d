//! Configuration: the settings of `scgate serve`, their docs, how they are resolved and printed.
//!
//! One `Settings` value is resolved per run, each layer overriding the one before it:
//!
//! 1. the defaults in [`Settings::default`];
//! 2. the TOML file (`--config FILE`, else `scgate.toml` in the working directory if present);
//! 3. `SCGATE_<KEY>` environment variables (`SCGATE_PORT=9000`);
//! 4. `scgate serve` flags (`--port 9000`).
//!
//! The result is validated once ([`Settings::validate`]) before anything starts. The file may
//! also hold `[plugins.NAME]` tables; they are kept apart from `Settings` in [`Resolved::plugins`].
//!
//! | file | owns |
//! |---|---|
//! | `settings.rs` | the `Settings` struct, its defaults, and its enums |
//! | `docs.rs` | the text of every setting, shared by `gen-config` and `--help` |
//! | `load.rs` | the layers, and the rules `validate` checks |
//! | `gen.rs` | the documented `scgate.toml` that `scgate gen-config` prints |
//!
//! This file holds the naming rules that tie a setting's key to its variable and its flag, so
//! that the file, the environment and the command line can never spell one setting two ways,
//! and the error every layer reports in.

mod auth_rules;
pub mod broker_kind;
pub mod docs;
pub mod gen;
pub mod load;
mod settings;

use std::fmt;
use std::path::PathBuf;

pub use broker_kind::BrokerKind;
pub use docs::SETTING_DOCS;
pub use gen::gen_config;
pub use load::{resolve, Loader, Resolved};
pub use settings::{AuthAlgorithm, ProtocolMode, Settings, SlowConsumerPolicy};

/// Prefix of every environment variable that sets a setting (`SCGATE_PORT` sets `port`).
pub const ENV_PREFIX: &str = "SCGATE_";

/// Name of the config file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "scgate.toml";

/// Name of the file table that holds per-plugin configuration (`[plugins.NAME]`).
pub const PLUGINS_TABLE: &str = "plugins";

/// The defaults as a TOML table: the source of truth for which keys exist and their types.
pub fn default_table() -> toml::Table {
    // Settings holds only strings, integers, booleans and unit enums, all of which TOML can
    // represent; a failure here is a bug in `Settings`, caught by every test of this module.
    toml::Table::try_from(Settings::default())
        .unwrap_or_else(|e| panic!("Settings::default() must serialize to TOML: {e}"))
}

/// The environment variable for `key`: `SCGATE_` and the key in upper case.
pub fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// The `scgate serve` flag for `key`, without its dashes: the key in kebab case.
pub fn flag_name(key: &str) -> String {
    key.replace('_', "-")
}

/// The documentation of `key` from [`SETTING_DOCS`], if it has any.
pub fn doc(key: &str) -> Option<&'static str> {
    SETTING_DOCS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, text)| *text)
}

/// The default of `key` as a user would type it: strings without quotes.
pub fn default_text(key: &str) -> String {
    match default_table().get(key) {
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Why settings could not be resolved. Every variant names where the bad input came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read (an explicitly named file that is missing, say).
    #[error("cannot read config file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("{origin} is not valid TOML")]
    Syntax {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    /// A key that is not a setting.
    #[error("unknown setting `{key}` in {origin} (`scgate gen-config` lists every setting)")]
    UnknownKey { key: String, origin: String },
    /// A value of the wrong type or out of the field's range.
    #[error("bad value for `{key}` in {origin}: {reason}")]
    BadValue {
        key: String,
        origin: String,
        reason: String,
    },
    /// Values that are well-typed but break a rule of [`Settings::validate`].
    #[error("invalid settings: {}", join(.0))]
    Invalid(Vec<Invalid>),
}

/// One broken rule of [`Settings::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The setting whose value breaks the rule.
    pub key: &'static str,
    /// What the rule asks for, and the value found.
    pub reason: String,
    /// The file, variable or flag the value came from; `None` for a default or a direct call.
    pub origin: Option<String>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.key, self.reason)?;
        match &self.origin {
            Some(origin) => write!(f, " (set by {origin})"),
            None => Ok(()),
        }
    }
}

fn join(all: &[Invalid]) -> String {
    let texts: Vec<String> = all.iter().map(Invalid::to_string).collect();
    texts.join("; ")
}

/// A broken rule whose origin [`Loader::finish`] fills in.
pub(crate) fn invalid(key: &'static str, reason: String) -> Invalid {
    Invalid {
        key,
        reason,
        origin: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_key() {
        assert_eq!(env_var("ping_interval_ms"), "SCGATE_PING_INTERVAL_MS");
        assert_eq!(flag_name("ping_interval_ms"), "ping-interval-ms");
        assert_eq!(default_text("host"), "0.0.0.0");
        assert_eq!(default_text("port"), "8000");
    }
}
