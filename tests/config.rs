//! Settings resolution, validation, and the promise that docs, flags and gen-config match the code.
//!
//! Everything goes through the library API with the environment passed in as pairs, so no test
//! touches the process environment; the binary is run only where its exit code is the point.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command as Process;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{CommandFactory, Parser};
use scgate::cli::{Cli, Command, ServeArgs};
use scgate::config::{
    self, gen_config, ConfigError, Loader, ProtocolMode, Settings, SlowConsumerPolicy, SETTING_DOCS,
};

const NO_ENV: [(&str, &str); 0] = [];

/// A fresh directory under the system temp dir, unique to this process and call.
fn temp_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("scgate-config-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Writes `text` to a file named `name` in a fresh temp directory.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = temp_dir().join(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

fn serve_args(flags: &[&str]) -> ServeArgs {
    let argv = ["scgate", "serve"].iter().chain(flags);
    match Cli::try_parse_from(argv).expect("flags parse") {
        Cli {
            command: Command::Serve(args),
        } => *args,
        other => panic!("expected serve, got {other:?}"),
    }
}

/// Resolves with `--config` pointing at a file holding `file`, plus `env` and `flags`.
fn resolve(file: &str, env: &[(&str, &str)], flags: &[&str]) -> Result<Settings, ConfigError> {
    let path = temp_file("scgate.toml", file);
    let mut all = vec!["--config", path.to_str().expect("utf-8 temp path")];
    all.extend_from_slice(flags);
    let args = serve_args(&all);
    args.resolve(&temp_dir(), env.iter().copied())
        .map(|r| r.settings)
}

fn flag_table(pairs: &[(&str, toml::Value)]) -> toml::Table {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn precedence_is_defaults_then_file_then_env_then_flags() {
    let file = r#"
        port = 1000
        workers = 2
        log = "debug"
        protocol = "1"
        allow_client_publish = false
    "#;
    let env = [
        ("SCGATE_PORT", "2000"),
        ("SCGATE_WORKERS", "3"),
        ("SCGATE_PROTOCOL", "2"),
        ("SCGATE_ALLOW_CLIENT_PUBLISH", "true"),
        ("PATH", "/usr/bin"),
    ];
    let flags = ["--port", "3000", "--protocol", "auto"];
    let s = resolve(file, &env, &flags).expect("valid");
    assert_eq!(s.port, 3000, "flag beats env and file");
    assert_eq!(s.protocol, ProtocolMode::Auto, "flag beats env and file");
    assert_eq!(s.workers, 3, "env beats file");
    assert!(s.allow_client_publish, "env beats file");
    assert_eq!(s.log, "debug", "file beats default");
    assert_eq!(
        s.host,
        Settings::default().host,
        "default when no layer sets it"
    );
    assert_eq!(s.path, "/socketcluster/", "PATH is not SCGATE_PATH");
}

#[test]
fn each_layer_alone_overrides_the_defaults() {
    let from_file = resolve("slow_consumer = \"drop-newest\"", &[], &[]).expect("file");
    assert_eq!(from_file.slow_consumer, SlowConsumerPolicy::DropNewest);
    let from_env = resolve("", &[("SCGATE_MAX_CONNECTIONS", "7")], &[]).expect("env");
    assert_eq!(from_env.max_connections, 7);
    let from_flag = resolve("", &[], &["--allow-client-publish", "false"]).expect("flag");
    assert!(!from_flag.allow_client_publish);
    assert_eq!(resolve("", &[], &[]).expect("none"), Settings::default());
}

#[test]
fn config_file_is_explicit_or_scgate_toml_in_cwd() {
    let empty = temp_dir();
    assert_eq!(serve_args(&[]).config_file(&empty), None);
    let implicit = temp_file("scgate.toml", "port = 4242");
    let cwd = implicit.parent().expect("parent");
    assert_eq!(serve_args(&[]).config_file(cwd), Some(implicit.clone()));
    let resolved = serve_args(&[]).resolve(cwd, NO_ENV).expect("implicit file");
    assert_eq!(resolved.settings.port, 4242);

    let missing = empty.join("nope.toml");
    let args = serve_args(&["--config", missing.to_str().expect("utf-8")]);
    let err = args
        .resolve(cwd, NO_ENV)
        .expect_err("explicit missing file");
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    assert!(err.to_string().contains("nope.toml"), "{err}");
}

#[test]
fn unknown_file_key_names_key_and_file() {
    let err = resolve("prot = \"1\"", &[], &[]).expect_err("unknown key");
    let text = err.to_string();
    assert!(matches!(err, ConfigError::UnknownKey { .. }), "{text}");
    assert!(
        text.contains("`prot`") && text.contains("scgate.toml"),
        "{text}"
    );
}

#[test]
fn bad_file_values_and_syntax_are_errors() {
    let err = resolve("port = \"eighty\"", &[], &[]).expect_err("wrong type");
    assert!(
        matches!(&err, ConfigError::BadValue { key, .. } if key == "port"),
        "{err}"
    );
    assert!(err.to_string().contains("scgate.toml"), "{err}");
    let err = resolve("port = 70000", &[], &[]).expect_err("out of range");
    assert!(
        matches!(&err, ConfigError::BadValue { key, .. } if key == "port"),
        "{err}"
    );
    let err = resolve("port = ", &[], &[]).expect_err("syntax");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
}

#[test]
fn plugins_table_is_kept_beside_settings() {
    let text = "port = 1\n[plugins.chat]\ngreeting = \"hi\"\n[plugins.auth]\n";
    let resolved = Loader::new()
        .toml_str(text, "test")
        .and_then(Loader::finish);
    let resolved = resolved.expect("valid");
    assert_eq!(resolved.settings.port, 1);
    let chat = resolved.plugins.get("chat").and_then(|v| v.as_table());
    let greeting = chat
        .and_then(|t| t.get("greeting"))
        .and_then(|v| v.as_str());
    assert_eq!(greeting, Some("hi"));
    assert!(resolved.plugins.contains_key("auth"));

    for bad in ["plugins = 3", "[plugins]\nchat = 3"] {
        let err = Loader::new().toml_str(bad, "test").expect_err(bad);
        assert!(
            matches!(&err, ConfigError::BadValue { key, .. } if key == "plugins"),
            "{err}"
        );
    }
}

#[test]
fn bad_env_values_name_the_variable() {
    let cases = [
        ("SCGATE_PORT", "abc"),
        ("SCGATE_PORT", "70000"),
        ("SCGATE_WORKERS", "-1"),
        ("SCGATE_ALLOW_CLIENT_PUBLISH", "yes"),
        ("SCGATE_PROTOCOL", "3"),
        ("SCGATE_SLOW_CONSUMER", "drop-oldest"),
    ];
    for (var, value) in cases {
        let err = Loader::new().env([(var, value)]).expect_err(var);
        assert!(matches!(err, ConfigError::BadValue { .. }), "{var}: {err}");
        assert!(err.to_string().contains(var), "{var}: {err}");
    }
}

#[test]
fn env_values_parse_by_the_default_type() {
    let env = [
        ("SCGATE_ALLOW_CLIENT_PUBLISH", "FALSE"),
        ("SCGATE_PING_TIMEOUT_MS", " 30000 "),
        ("SCGATE_PUBLIC_DIR", ""),
        ("SCGATE_NO_SUCH_SETTING", "1"),
        ("SCGATE_port", "1"),
    ];
    let resolved = Loader::new()
        .env(env)
        .and_then(Loader::finish)
        .expect("valid");
    assert!(!resolved.settings.allow_client_publish);
    assert_eq!(resolved.settings.ping_timeout_ms, 30_000);
    assert_eq!(resolved.settings.public_dir, "");
    assert_eq!(resolved.settings.port, 8000, "names are case-sensitive");
    assert_eq!(resolved.warnings.len(), 2, "{:?}", resolved.warnings);
    assert!(resolved.warnings[0].contains("SCGATE_NO_SUCH_SETTING"));
}

#[test]
fn bad_flag_values_are_refused_by_the_parser() {
    for bad in [
        &["--protocol", "3"][..],
        &["--slow-consumer", "never"],
        &["--allow-client-publish", "maybe"],
        &["--port", "70000"],
        &["--workers", "-1"],
    ] {
        let argv = ["scgate", "serve"].iter().chain(bad);
        assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
    }
    // Fits a usize flag, but not a TOML integer: refused with the flag's name.
    let huge = serve_args(&["--workers", "18446744073709551615"]);
    let err = huge.resolve(&temp_dir(), NO_ENV).expect_err("too large");
    assert!(
        matches!(&err, ConfigError::BadValue { key, .. } if key == "workers"),
        "{err}"
    );
    assert!(err.to_string().contains("--workers"), "{err}");

    let args = serve_args(&["--slow-consumer", "drop-newest", "--protocol", "1"]);
    assert_eq!(args.slow_consumer, Some(SlowConsumerPolicy::DropNewest));
    assert_eq!(args.protocol, Some(ProtocolMode::V1));
}

/// Each rule: a value that breaks it, and the nearest value that passes.
#[test]
fn validation_rejects_each_rule_and_accepts_its_boundary() {
    use toml::Value::{Integer as I, String as S};
    let cases: &[(&str, toml::Value, toml::Value)] = &[
        ("path", S("socketcluster/".into()), S("/".into())),
        ("ping_interval_ms", I(0), I(1)),
        ("ping_interval_ms", I(20_000), I(19_999)),
        ("handshake_timeout_ms", I(0), I(1)),
        ("upgrade_timeout_ms", I(0), I(1)),
        ("max_message_bytes", I(1023), I(1024)),
        ("max_channel_name_bytes", I(0), I(1)),
        ("max_channels_per_socket", I(0), I(1)),
        ("max_connections", I(0), I(1)),
        ("outbound_queue_frames", I(0), I(1)),
        ("read_buffer_bytes", I(255), I(256)),
        ("workers", I(65), I(64)),
        (
            "broker",
            S("kafka://127.0.0.1:9092".into()),
            S("nats://127.0.0.1:4222".into()),
        ),
    ];
    for (key, bad, good) in cases {
        let err = Loader::new()
            .flags(flag_table(&[(key, bad.clone())]))
            .and_then(Loader::finish)
            .expect_err(key);
        let ConfigError::Invalid(all) = &err else {
            panic!("{key}: expected Invalid, got {err}");
        };
        assert_eq!(all.len(), 1, "{key}: {err}");
        assert_eq!(all[0].key, *key, "{err}");
        let flag = format!("--{}", key.replace('_', "-"));
        assert_eq!(all[0].origin.as_deref(), Some(&*format!("flag {flag}")));

        let ok = Loader::new().flags(flag_table(&[(key, good.clone())]));
        ok.and_then(Loader::finish).expect(key);
    }
}

#[test]
fn validation_reports_every_broken_rule_with_clear_text() {
    let settings = Settings {
        broker: "kafka://localhost".into(),
        ping_timeout_ms: 0,
        ..Settings::default()
    };
    let err = settings.validate().expect_err("two broken rules");
    let text = err.to_string();
    assert!(
        text.contains("must be \"memory\", a redis:// URL or a nats:// URL"),
        "{text}"
    );
    assert!(text.contains("ping_interval_ms"), "{text}");
    assert!(Settings::default().validate().is_ok());
}

#[test]
fn effective_counts_fill_in_zero() {
    let auto = Settings::default();
    assert!((1..=64).contains(&auto.effective_workers()));
    assert_eq!(auto.effective_brokers(), auto.effective_workers());
    let fixed = Settings {
        workers: 3,
        brokers: 5,
        ..Settings::default()
    };
    assert_eq!(
        (fixed.effective_workers(), fixed.effective_brokers()),
        (3, 5)
    );
    let workers_only = Settings {
        workers: 6,
        ..Settings::default()
    };
    assert_eq!(workers_only.effective_brokers(), 6);
}

/// Every key of the serialized defaults.
fn setting_keys() -> BTreeSet<String> {
    config::default_table().keys().cloned().collect()
}

#[test]
fn gen_config_parses_back_to_the_defaults() {
    let text = gen_config();
    let resolved = Loader::new()
        .toml_str(&text, "gen-config")
        .and_then(Loader::finish)
        .expect("gen-config output resolves");
    assert_eq!(resolved.settings, Settings::default());
    assert!(resolved.plugins.is_empty());
    let table: toml::Table = toml::from_str(&text).expect("valid TOML");
    let written: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(written, setting_keys(), "gen-config writes every setting");
}

#[test]
fn every_setting_has_exactly_one_doc_and_every_doc_a_setting() {
    let documented: Vec<&str> = SETTING_DOCS.iter().map(|(k, _)| *k).collect();
    let unique: BTreeSet<String> = documented.iter().map(|k| k.to_string()).collect();
    assert_eq!(unique.len(), documented.len(), "a key is documented twice");
    assert_eq!(unique, setting_keys());
    for (key, text) in SETTING_DOCS {
        assert!(text.len() > 20, "{key} has too little documentation");
    }
}

#[test]
fn every_setting_has_a_serve_flag_and_every_flag_a_setting() {
    let cli = Cli::command();
    let serve = cli.find_subcommand("serve").expect("serve subcommand");
    let mut flags = BTreeSet::new();
    for arg in serve.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["config", "help", "version"].contains(&long) {
            continue;
        }
        let key = long.replace('-', "_");
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        assert!(help.contains(&config::env_var(&key)), "--{long}: {help}");
        assert!(help.contains("[default: "), "--{long}: {help}");
        flags.insert(key);
    }
    assert_eq!(flags, setting_keys());
    Cli::command().debug_assert();
}

#[test]
fn binary_gen_config_prints_gen_config() {
    let out = Process::new(env!("CARGO_BIN_EXE_scgate"))
        .arg("gen-config")
        .output()
        .expect("run scgate gen-config");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), gen_config());
}

#[test]
fn binary_serve_exits_2_on_bad_config() {
    let missing = temp_dir().join("missing.toml");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Process::new(env!("CARGO_BIN_EXE_scgate"));
        cmd.arg("serve").args(args).current_dir(temp_dir());
        cmd.envs(env.iter().copied())
            .output()
            .expect("run scgate serve")
    };
    let out = run(&["--config", missing.to_str().expect("utf-8")], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
    let out = run(&[], &[("SCGATE_PORT", "abc")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SCGATE_PORT"));
    let out = run(&["--path", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--path"));
}
