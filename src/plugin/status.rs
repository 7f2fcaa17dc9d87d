//! The plugin status report seen from outside: `scgate plugins` fetches a running gateway's
//! `GET /plugins` (on its admin listener) and prints it as a table; [`public`] trims the report
//! for `GET /status/plugins` on the public port.

use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long the gateway may take to connect and answer: it answers from memory, so anything
/// longer means it is not there or not well.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Largest report read: far above any real plugin list, so a wrong address cannot make the
/// command read forever.
const MAX_REPLY_BYTES: u64 = 16 * 1024 * 1024;

/// The status report of the gateway whose admin listener is at `address` (`host:port`),
/// sending `token` as the admin bearer token when given.
pub fn fetch(address: &str, token: Option<&str>) -> anyhow::Result<Value> {
    let target = address
        .to_socket_addrs()
        .with_context(|| format!("{address} is not an address"))?
        .next()
        .ok_or_else(|| anyhow!("{address} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&target, TIMEOUT)
        .with_context(|| format!("cannot connect to a gateway at {address}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    // HTTP/1.0: the gateway closes the connection after the reply, which ends the read.
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET /plugins HTTP/1.0\r\nHost: {address}\r\n{authorization}\r\n"
    )?;
    let mut reply = Vec::new();
    stream
        .take(MAX_REPLY_BYTES)
        .read_to_end(&mut reply)
        .with_context(|| format!("no reply from {address}"))?;
    let reply = String::from_utf8_lossy(&reply);
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("{address} did not answer with HTTP"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("{address} answered {status}: {}", body.trim());
    }
    serde_json::from_str(body).with_context(|| format!("{address} sent a report that is not JSON"))
}

/// The report as a table, one plugin per line, with its last load error under it.
pub fn render(report: &Value) -> String {
    let empty = Vec::new();
    let plugins = report["plugins"].as_array().unwrap_or(&empty);
    if plugins.is_empty() {
        return "no plugins\n".into();
    }
    let mut rows = vec![[
        "NAME".to_owned(),
        "STATE".into(),
        "VERSION".into(),
        "LIVE SINCE".into(),
        "LOADS".into(),
        "CALLS".into(),
        "ERRORS".into(),
        "REGISTERED".into(),
    ]];
    for p in plugins {
        let text = |key: &str| p[key].as_str().unwrap_or("-").to_owned();
        let list = |key: &str| {
            p[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        let mut registered = Vec::new();
        if !list("events").is_empty() {
            registered.push(format!("events {}", list("events")));
        }
        if !list("stages").is_empty() {
            registered.push(format!("stages {}", list("stages")));
        }
        if p["lifecycle"].as_bool() == Some(true) {
            registered.push("lifecycle".into());
        }
        let version = text("version");
        rows.push([
            text("name"),
            text("state"),
            version.chars().take(12).collect(),
            text("live_since"),
            format!("{}", p["loads"].as_u64().unwrap_or(0)),
            format!("{}", p["calls"].as_u64().unwrap_or(0)),
            format!("{}", p["errors"].as_u64().unwrap_or(0)),
            registered.join("; "),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        let error = index
            .checked_sub(1)
            .and_then(|i| plugins[i]["last_error"].as_object());
        if let Some(error) = error {
            let at = error.get("at").and_then(Value::as_str).unwrap_or("-");
            let message = error.get("message").and_then(Value::as_str).unwrap_or("-");
            out.push_str(&format!("  last load error ({at}): {message}\n"));
        }
    }
    out
}

/// The fields of a plugin's entry that `GET /status/plugins` shows to anyone who asks: no file
/// path (it tells how the host is laid out) and, outside dev mode, no error message (load
/// errors quote paths and the host's errors).
const PUBLIC_FIELDS: &[&str] = &[
    "name",
    "state",
    "version",
    "live_since",
    "loads",
    "failed_loads",
    "events",
    "stages",
    "lifecycle",
    "calls",
    "errors",
];

/// `report` (as [`crate::hooks::Hooks::plugins_status`] gives it) with only the public fields
/// of each plugin, and the time of its last load error; the error's message too if `dev`.
pub fn public(report: &Value, dev: bool) -> Value {
    let empty = Vec::new();
    let plugins: Vec<Value> = report["plugins"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|plugin| {
            let mut entry = serde_json::Map::new();
            for key in PUBLIC_FIELDS {
                entry.insert((*key).to_owned(), plugin[*key].clone());
            }
            let error = &plugin["last_error"];
            let error = match (error.is_object(), dev) {
                (false, _) => Value::Null,
                (true, true) => error.clone(),
                (true, false) => serde_json::json!({ "at": error["at"] }),
            };
            entry.insert("last_error".to_owned(), error);
            Value::Object(entry)
        })
        .collect();
    serde_json::json!({ "generation": report["generation"], "plugins": plugins })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_one_row_per_plugin_and_its_last_error() {
        let report = json!({"generation": 3, "plugins": [
            {"name": "ping", "state": "live", "version": "0123456789abcdef", "live_since": "2026-11-27T04:10:32.123Z",
             "loads": 2, "calls": 10, "errors": 1, "events": ["ping"], "stages": [], "lifecycle": false,
             "last_error": {"at": "2026-11-27T04:11:00.000Z", "message": "not a component"}},
            {"name": "acl", "state": "removed", "version": null, "live_since": null, "loads": 1,
             "calls": 0, "errors": 0, "events": [], "stages": ["Subscribe"], "lifecycle": true, "last_error": null},
        ]});
        let table = render(&report);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("NAME") && lines[0].contains("REGISTERED"));
        assert!(lines[1].starts_with("ping") && lines[1].contains("0123456789ab "));
        assert!(lines[1].contains("events ping"));
        assert!(lines[2].contains("last load error (2026-11-27T04:11:00.000Z): not a component"));
        assert!(lines[3].starts_with("acl") && lines[3].contains("removed"));
        assert!(lines[3].contains("stages Subscribe; lifecycle"));
        assert_eq!(render(&json!({"plugins": []})), "no plugins\n");
    }

    #[test]
    fn the_public_report_has_no_paths_and_error_messages_only_in_dev_mode() {
        let report = json!({"generation": 2, "plugins": [
            {"name": "ping", "file": "/srv/app/plugins/ping.wasm", "state": "live", "version": "ab",
             "live_since": "2026-11-27T04:10:32.123Z", "loads": 2, "failed_loads": 1, "calls": 10,
             "errors": 0, "events": ["ping"], "stages": [], "lifecycle": false,
             "last_error": {"at": "2026-11-27T04:11:00.000Z", "message": "cannot read /srv/app"}},
        ]});
        let trimmed = public(&report, false);
        let ping = &trimmed["plugins"][0];
        assert_eq!(trimmed["generation"], 2);
        assert_eq!(ping["version"], "ab");
        assert_eq!(ping["calls"], 10);
        assert_eq!(ping["events"], json!(["ping"]));
        assert!(ping.get("file").is_none(), "{ping}");
        assert_eq!(
            ping["last_error"],
            json!({"at": "2026-11-27T04:11:00.000Z"})
        );
        assert!(!trimmed.to_string().contains("/srv/app"), "{trimmed}");
        let dev = public(&report, true);
        assert_eq!(
            dev["plugins"][0]["last_error"]["message"],
            "cannot read /srv/app"
        );
    }
}
