//! The documented `scgate.toml` that `scgate gen-config` prints.
//!
//! Every setting appears once, set to its default, under its doc text as `#` comments, in
//! groups a reader can scan. Values come from `Settings::default()` and text from
//! `SETTING_DOCS`, so the output follows the code; a setting missing from [`GROUPS`] still
//! appears, under "Other settings".

use super::{default_table, doc, env_var, PLUGINS_TABLE};

/// Longest comment line written, so the file reads well in an 100-column editor.
const WRAP_COLUMN: usize = 98;

/// Group title → the keys in it, in the order they are printed.
const GROUPS: &[(&str, &[&str])] = &[
    (
        "Listener",
        &[
            "host",
            "port",
            "path",
            "public_dir",
            "public_dotfiles",
            "public_outside_links",
            "origins",
            "public_plugin_status",
        ],
    ),
    (
        "Admin listener",
        &["admin_host", "admin_port", "admin_token"],
    ),
    ("Threads and brokers", &["workers", "brokers", "broker"]),
    (
        "Protocol and timeouts",
        &[
            "protocol",
            "ping_interval_ms",
            "ping_timeout_ms",
            "handshake_timeout_ms",
            "upgrade_timeout_ms",
            "shutdown_grace_ms",
        ],
    ),
    (
        "Limits",
        &[
            "max_message_bytes",
            "max_channel_name_bytes",
            "max_channels_per_socket",
            "max_connections",
            "max_connections_per_ip",
            "accept_rate_per_ip",
        ],
    ),
    (
        "Slow consumers and buffers",
        &[
            "outbound_queue_frames",
            "outbound_queue_bytes",
            "max_buffered_bytes",
            "slow_consumer",
            "read_buffer_bytes",
            "write_buffer_bytes",
        ],
    ),
    ("Clients", &["allow_client_publish"]),
    (
        "Authentication",
        &[
            "auth_algorithm",
            "auth_key",
            "auth_private_key_file",
            "auth_public_key_file",
            "auth_default_expiry_s",
            "auth_leeway_s",
            "auth_require_exp",
            "auth_max_token_bytes",
        ],
    ),
    ("Logging", &["log"]),
];

/// A complete, valid `scgate.toml` with every setting documented and set to its default.
pub fn gen_config() -> String {
    let mut defaults = default_table();
    let mut out = String::new();
    out.push_str("# scgate.toml: every setting of `scgate serve`, set to its default.\n");
    out.push_str("#\n");
    out.push_str("# Precedence: defaults < this file < SCGATE_<KEY> environment variables\n");
    out.push_str("# < `scgate serve --<key>` flags. Keys are written here in snake_case,\n");
    out.push_str("# flags in kebab-case (ping_interval_ms → --ping-interval-ms).\n");

    for (title, keys) in GROUPS {
        let entries: Vec<(String, toml::Value)> = keys
            .iter()
            .filter_map(|key| defaults.remove_entry(*key))
            .collect();
        write_group(&mut out, title, entries);
    }
    // Whatever no group names (a setting added without updating GROUPS) still gets printed.
    write_group(&mut out, "Other settings", defaults.into_iter().collect());

    out.push_str(&format!(
        "\n# Per-plugin configuration goes in [{PLUGINS_TABLE}.NAME] tables, for example:\n"
    ));
    out.push_str(&format!(
        "# [{PLUGINS_TABLE}.chat]\n# greeting = \"hello\"\n"
    ));
    out
}

/// Writes one titled group of `key = value` lines, each under its doc comment.
fn write_group(out: &mut String, title: &str, entries: Vec<(String, toml::Value)>) {
    if entries.is_empty() {
        return;
    }
    out.push_str(&format!("\n# ---- {title} ----\n"));
    for (key, value) in entries {
        out.push('\n');
        let text = doc(&key).unwrap_or("(undocumented)");
        for line in wrap(text, WRAP_COLUMN - 2) {
            out.push_str(&format!("# {line}\n"));
        }
        out.push_str(&format!("# Environment: {}\n", env_var(&key)));
        out.push_str(&format!("{key} = {value}\n"));
    }
}

/// Splits `text` into lines of at most `width` characters, breaking only at spaces
/// (a single word longer than `width` gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = if line.is_empty() {
            word.chars().count()
        } else {
            line.chars().count() + 1 + word.chars().count()
        };
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_within_width() {
        let lines = wrap("aaa bbb ccc dddddddd e", 7);
        assert_eq!(lines, ["aaa bbb", "ccc", "dddddddd", "e"]);
    }

    #[test]
    fn every_key_is_printed_once() {
        let text = gen_config();
        for key in default_table().keys() {
            let assignments = text
                .lines()
                .filter(|l| l.starts_with(&format!("{key} = ")))
                .count();
            assert_eq!(assignments, 1, "{key}");
        }
    }
}
