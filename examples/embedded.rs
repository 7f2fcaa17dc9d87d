//! Embedding scgate with native Rust handlers: the same flags as `scgate serve`, plus the
//! handlers of the SocketCluster test app (`sc-protocol.md` section 15), so real clients can
//! exercise server-side logic: acks, errors, server publishes, kick-outs, disconnects.
//!
//! ```sh
//! cargo run --example embedded -- serve --port 8000
//! ```

use clap::Parser;
use scgate::cli::{Cli, Command};
use scgate::protocol::ErrorObject;
use scgate::{Actions, Hooks, Outcome, SocketInfo};
use serde_json::value::RawValue;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;

/// The test app's handlers. One instance per worker, like a SocketCluster worker's state.
#[derive(Default)]
struct TestApp {
    /// What each socket sent with `record`, in order; dropped when the socket goes.
    recorded: RefCell<HashMap<Arc<str>, Vec<Box<RawValue>>>>,
}

fn raw(value: &Value) -> Box<RawValue> {
    scgate::protocol::encode::raw(value)
}

fn parse(data: Option<&RawValue>) -> Value {
    data.and_then(|d| serde_json::from_str(d.get()).ok())
        .unwrap_or(Value::Null)
}

impl Hooks for TestApp {
    fn on_event(
        &self,
        socket: &SocketInfo,
        event: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Outcome {
        match event {
            "echo" => Outcome::Ack(data.map(|d| d.to_owned())),
            "fail" => {
                let text = parse(data).as_str().map(str::to_owned).unwrap_or_default();
                Outcome::Fail(
                    ErrorObject::new("CustomError", format!("Custom failure {text}"))
                        .with("extra", 42),
                )
            }
            "publishFromServer" => {
                let request = parse(data);
                let channel = request["channel"].as_str().unwrap_or_default().to_owned();
                actions.publish(channel, raw(&request["data"]));
                Outcome::Ack(None)
            }
            "kickMe" => {
                let channel = parse(data).as_str().unwrap_or_default().to_owned();
                actions.kick_out(None, channel, "You were kicked");
                Outcome::Ack(None)
            }
            "dropMe" => {
                let request = parse(data);
                let code = request["code"]
                    .as_u64()
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(4000);
                let reason = request["reason"].as_str().unwrap_or_default();
                actions.disconnect(None, code, reason);
                Outcome::Ack(None)
            }
            "serverTransmit" => {
                let request = parse(data);
                let name = request["event"].as_str().unwrap_or("notice").to_owned();
                actions.transmit(None, name, Some(raw(&request["data"])));
                Outcome::Ack(None)
            }
            "record" => {
                let item = data
                    .map(|d| d.to_owned())
                    .unwrap_or_else(|| raw(&Value::Null));
                self.recorded
                    .borrow_mut()
                    .entry(socket.id.clone())
                    .or_default()
                    .push(item);
                Outcome::Ack(None)
            }
            "recorded" => {
                let recorded = self.recorded.borrow();
                let items: Vec<&RawValue> = recorded
                    .get(&socket.id)
                    .map(|v| v.iter().map(|b| &**b).collect())
                    .unwrap_or_default();
                Outcome::Ack(serde_json::value::to_raw_value(&items).ok())
            }
            _ => Outcome::Unhandled,
        }
    }

    fn on_disconnect(&self, socket: &SocketInfo, _code: u16) {
        self.recorded.borrow_mut().remove(&socket.id);
    }
}

fn main() -> ExitCode {
    let Command::Serve(args) = Cli::parse().command else {
        eprintln!("usage: embedded serve [FLAGS]");
        return ExitCode::from(2);
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let resolved = scgate::config::load::process_env().and_then(|env| args.resolve(&cwd, env));
    let resolved = match resolved {
        Ok(resolved) => resolved,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&resolved.settings.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let hooks: scgate::HooksFactory = Arc::new(|_| Rc::new(TestApp::default()));
    match scgate::server::serve_with_hooks(resolved.settings, hooks) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
