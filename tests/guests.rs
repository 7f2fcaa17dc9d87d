//! One behaviour, four guest languages: the `ping` handler and the `publish-filter` middleware
//! written in Rust (`plugins/ping`, `plugins/publish-filter`), Python, JavaScript and C
//! (`plugins/{python,js,c}/`), each pair loaded into a real gateway on port 0 and driven by a
//! real WebSocket client, with the same assertions for every language.
//!
//! Build the components first: `plugins/build.sh` (Rust) and `scripts/guests.sh` (the others).
//! Compiled components go to the on-disk cache in `target/tmp/plugin-cache`, so only the first
//! run of this file pays the seconds that compiling a Python or JavaScript component takes.

mod common;

use common::{settings, Client};
use scgate::config::Settings;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The guest languages, each with its two components.
#[derive(Clone, Copy, Debug)]
enum Lang {
    Rust,
    Python,
    Js,
    C,
}

impl Lang {
    /// The component of plugin `name` (`ping` or `publish-filter`) in this language.
    fn component(self, name: &str) -> PathBuf {
        let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist");
        let (path, how) = match self {
            Lang::Rust => (dist.join(format!("rust/{name}.wasm")), "plugins/build.sh"),
            Lang::Python => (
                dist.join(format!("python/{name}.wasm")),
                "scripts/guests.sh",
            ),
            Lang::Js => (dist.join(format!("js/{name}.wasm")), "scripts/guests.sh"),
            Lang::C => (dist.join(format!("c/{name}.wasm")), "scripts/guests.sh"),
        };
        assert!(
            path.is_file(),
            "{} is missing: build it with `{how}` before `cargo test`",
            path.display()
        );
        path
    }

    /// Rust's std output imports WASI (the stub context serves it); the Python, JS and C
    /// builds are made with no WASI imports, and load without it.
    fn wasi(self) -> bool {
        matches!(self, Lang::Rust)
    }
}

/// The on-disk compile cache the guest tests share, in cargo's per-target temporary folder.
pub fn test_cache_dir() -> String {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-cache")
        .to_str()
        .expect("utf-8 target dir")
        .to_owned()
}

/// Starts a gateway (one worker, so one instance of each plugin) with `lang`'s two plugins.
fn gateway(lang: Lang) -> scgate::ServerHandle {
    let settings = Settings {
        workers: 1,
        plugins_dir: String::new(),
        plugin_cache_dir: test_cache_dir(),
        // The clients are still open at the end: do not wait for them to drain.
        shutdown_grace_ms: 100,
        ..settings()
    };
    let mut tables = toml::Table::new();
    for name in ["ping", "publish-filter"] {
        let mut table = toml::Table::new();
        let file = lang.component(name);
        table.insert("file".into(), file.to_str().expect("utf-8 path").into());
        table.insert("wasi".into(), lang.wasi().into());
        tables.insert(name.into(), table.into());
    }
    let hooks = match scgate::plugin::load(&settings, &tables) {
        Ok(hooks) => hooks,
        Err(err) => panic!("{lang:?} plugins failed to load: {err:#}"),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    scgate::start(settings, listener, hooks).expect("start")
}

/// Publishes `data` on `channel` with an ack, and returns the reply.
async fn publish(client: &mut Client, channel: &str, data: Value) -> Value {
    client
        .invoke("#publish", json!({"channel":channel,"data":data}))
        .await
}

/// The shared behaviour: ping's reply and count, then the middleware's block, rewrite and allow.
async fn behaves(lang: Lang) {
    let gw = gateway(lang);
    let (mut caller, _) = Client::connected(gw.local_addr()).await;
    let (mut watcher, _) = Client::connected(gw.local_addr()).await;
    for channel in ["pong", "blocked/room", "rewrite/room", "open/room"] {
        watcher.subscribe(channel).await;
    }

    // ping: acks with its data unchanged, and publishes its per-instance count on `pong`.
    let data = json!({"nested":[1,"two",null,{"x":true}],"s":"é\"\\"});
    let reply = caller.invoke("ping", data.clone()).await;
    assert_eq!(reply, json!({"rid":reply["rid"],"data":data}), "{lang:?}");
    assert_eq!(
        watcher.delivery().await,
        ("pong".into(), json!(1)),
        "{lang:?}"
    );
    let reply = caller.invoke("ping", json!("again")).await;
    assert_eq!(reply["data"], "again", "{lang:?}");
    assert_eq!(
        watcher.delivery().await,
        ("pong".into(), json!(2)),
        "{lang:?}"
    );

    // publish-in, blocked: the plugin's error, exactly, and no delivery.
    let reply = publish(&mut caller, "blocked/room", json!("x")).await;
    assert_eq!(
        reply,
        json!({"rid":reply["rid"],"error":{
            "name":"PublishBlockedError",
            "message":"Publishing to blocked/room is not allowed"
        }}),
        "{lang:?}"
    );

    // publish-in, rewritten: subscribers get the wrapped data; the publisher is acked.
    let reply = publish(&mut caller, "rewrite/room", json!({"n":1})).await;
    assert_eq!(reply, json!({"rid":reply["rid"]}), "{lang:?}");
    // The worker delivers in publish order, so the blocked publish would have come first.
    let want = json!({"rewritten":true,"data":{"n":1}});
    assert_eq!(
        watcher.delivery().await,
        ("rewrite/room".into(), want),
        "{lang:?}"
    );

    // publish-in, allowed: unchanged.
    let reply = publish(&mut caller, "open/room", json!("plain")).await;
    assert_eq!(reply, json!({"rid":reply["rid"]}), "{lang:?}");
    let want = ("open/room".to_string(), json!("plain"));
    assert_eq!(watcher.delivery().await, want, "{lang:?}");
    gw.shutdown().await;
}

#[tokio::test]
async fn rust_guests_ping_and_filter_publishes() {
    behaves(Lang::Rust).await;
}

#[tokio::test]
async fn python_guests_ping_and_filter_publishes() {
    behaves(Lang::Python).await;
}

#[tokio::test]
async fn javascript_guests_ping_and_filter_publishes() {
    behaves(Lang::Js).await;
}

#[tokio::test]
async fn c_guests_ping_and_filter_publishes() {
    behaves(Lang::C).await;
}
