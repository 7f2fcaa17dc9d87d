//! Plugin-call overhead: one `ping` event through a worker's plugin hooks, as the gateway makes
//! it (socket record lowered, strings copied in and out, host `publish` recorded, reply
//! validated), for the `ping` plugin in each guest language: Rust, Python, JavaScript and C.
//!
//! Needs the components: `plugins/build.sh` and `scripts/guests.sh`, then
//! `cargo bench --bench plugin_call`. A language whose component is missing is skipped with a
//! note. Compiled components come from the on-disk cache in `target/tmp/plugin-cache`.

use criterion::{criterion_group, criterion_main, Criterion};
use scgate::config::Settings;
use scgate::{Actions, SocketInfo};
use serde_json::value::RawValue;
use std::hint::black_box;
use std::path::Path;

/// Each language's `ping` component under `plugins/dist/`, and whether it needs WASI.
const PINGS: &[(&str, &str, bool)] = &[
    ("rust", "rust/ping.wasm", true),
    ("python", "python/ping.wasm", false),
    ("js", "js/ping.wasm", false),
    ("c", "c/ping.wasm", false),
];

/// A worker's hooks serving only `file`'s `ping`, or `None` when the component is not built.
fn ping_hooks(file: &str, wasi: bool) -> Option<std::rc::Rc<dyn scgate::Hooks>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/dist")
        .join(file);
    if !path.is_file() {
        eprintln!("skipping {}: not built", path.display());
        return None;
    }
    let settings = Settings {
        plugins_dir: String::new(),
        plugin_cache_dir: Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("plugin-cache")
            .to_string_lossy()
            .into_owned(),
        ..Settings::default()
    };
    let mut table = toml::Table::new();
    table.insert("file".into(), path.to_string_lossy().into_owned().into());
    table.insert("wasi".into(), wasi.into());
    let mut tables = toml::Table::new();
    tables.insert("ping".into(), table.into());
    let factory = scgate::plugin::load(&settings, &tables).expect("load ping");
    Some(factory(0))
}

fn bench(c: &mut Criterion) {
    let info = SocketInfo {
        id: "bench-socket-0000000".into(),
        query: "".into(),
        worker: 0,
        auth_token: None,
    };
    let data = RawValue::from_string("\"This is a PING message\"".into()).expect("json");
    for &(lang, file, wasi) in PINGS {
        let Some(hooks) = ping_hooks(file, wasi) else {
            continue;
        };
        c.bench_function(&format!("plugin_call/ping/{lang}"), |b| {
            b.iter(|| {
                let mut actions = Actions::default();
                let outcome = hooks.on_event(&info, "ping", Some(&data), &mut actions);
                black_box((outcome, actions))
            })
        });
        if lang == "rust" {
            c.bench_function("plugin_call/unregistered_event", |b| {
                b.iter(|| {
                    let mut actions = Actions::default();
                    black_box(hooks.on_event(&info, "nobody", Some(&data), &mut actions))
                })
            });
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
