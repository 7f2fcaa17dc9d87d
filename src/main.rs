//! The `scgate` binary: command line → validated settings → run → exit code.
//!
//! Exit codes: 0 after a clean run, 1 when the gateway fails while running, 2 for a usage or
//! configuration error (bad flag, unreadable or invalid config file, invalid setting).
//! `check-plugin` exits 1 for a plugin the gateway would refuse; `new-plugin` 1 when it cannot
//! write the project; `plugins` 1 when it cannot reach the gateway.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Parser;
use scgate::cli::{CheckPluginArgs, Cli, Command, NewPluginArgs, PluginsArgs, ServeArgs};
use scgate::config::{self, Resolved};
use tracing_subscriber::EnvFilter;

/// Exit code for a gateway that failed while running.
const EXIT_RUNTIME: u8 = 1;
/// Exit code for bad input before anything started (clap uses 2 for usage errors too).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::GenConfig => gen_config(),
        Command::CheckPlugin(args) => check_plugin(&args),
        Command::NewPlugin(args) => new_plugin(&args),
        Command::Plugins(args) => plugins(&args),
    }
}

/// `scgate plugins`: the status report of a running gateway; exits 1 if it cannot be fetched.
fn plugins(args: &PluginsArgs) -> ExitCode {
    let settings = match resolve(&ServeArgs::default()) {
        Ok(resolved) => resolved.settings,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let address = match &args.address {
        Some(address) => address.clone(),
        None if settings.admin_host.is_empty() => {
            eprintln!("error: admin_host is empty: this gateway has no admin listener");
            return ExitCode::from(EXIT_CONFIG);
        }
        // An admin listener on every address is asked on loopback.
        None if settings.admin_host == "0.0.0.0" => format!("127.0.0.1:{}", settings.admin_port),
        None => format!("{}:{}", settings.admin_host, settings.admin_port),
    };
    let token = Some(settings.admin_token.as_str()).filter(|t| !t.is_empty());
    match scgate::plugin::status::fetch(&address, token) {
        Ok(report) if args.json => {
            println!("{report:#}");
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", scgate::plugin::status::render(&report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `scgate serve`: resolve and validate settings, start logging, run until shut down.
fn serve(args: &ServeArgs) -> ExitCode {
    let Resolved {
        settings,
        plugins,
        warnings,
    } = match resolve(args) {
        Ok(resolved) => resolved,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = init_logging(&settings.log) {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_CONFIG);
    }
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let args = args.clone();
    let reread: scgate::server::Reread = Box::new(move || {
        let resolved = resolve(&args)?;
        for warning in resolved.warnings {
            tracing::warn!("{warning}");
        }
        Ok((resolved.settings, resolved.plugins))
    });
    match scgate::server::serve(settings, plugins, Some(reread)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// Settings from the working directory's `scgate.toml` (or `--config`), the process
/// environment, and the flags.
fn resolve(args: &ServeArgs) -> anyhow::Result<Resolved> {
    use anyhow::Context;
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let env = config::load::process_env()?;
    Ok(args.resolve(&cwd, env)?)
}

/// Logs to stderr, filtered by `RUST_LOG` if set, else by the `log` setting.
fn init_logging(setting: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        // The parse error's own source repeats its message, so only its top line is kept.
        Ok(from_env) => EnvFilter::try_new(&from_env)
            .map_err(|e| anyhow!("RUST_LOG={from_env:?} is not a valid log filter: {e}"))?,
        Err(_) => EnvFilter::try_new(setting)
            .map_err(|e| anyhow!("log = {setting:?} is not a valid log filter: {e}"))?,
    };
    // The file watcher logs routine inotify bookkeeping (folders under a watched tree coming and
    // going during a build) at info; keep it to warnings unless the filter names it.
    let filter = match "notify=warn".parse() {
        Ok(quiet) if !setting.contains("notify") && std::env::var("RUST_LOG").is_err() => {
            filter.add_directive(quiet)
        }
        _ => filter,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|e| anyhow!("cannot start logging: {e}"))
}

/// `scgate gen-config`: print the documented default config. A closed pipe
/// (`scgate gen-config | head`) is not an error.
fn gen_config() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(config::gen_config().as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the config: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `scgate check-plugin`: load one component as `serve` would and print what it is.
fn check_plugin(args: &CheckPluginArgs) -> ExitCode {
    let resolved = config::load::process_env().and_then(|env| args.resolve(env));
    let Resolved {
        settings,
        plugins,
        warnings,
    } = match resolved {
        Ok(resolved) => resolved,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // What the plugin prints during `init` goes to the log, as under `serve`.
    if let Err(e) = init_logging(&settings.log) {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_CONFIG);
    }
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let config = args.config.as_deref();
    match scgate::plugin::inspect::check(&args.file, args.wasi, &settings, &plugins, config) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `scgate new-plugin`: write a plugin project and print the next steps.
fn new_plugin(args: &NewPluginArgs) -> ExitCode {
    match scgate::plugin::scaffold::scaffold(&args.name, args.lang, &args.dir()) {
        Ok(scaffold) => {
            print!("{scaffold}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
