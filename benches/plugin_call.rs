//! Plugin-call overhead: one `ping` event through a worker's plugin hooks, as the gateway makes
//! it (socket record lowered, strings copied in and out, host `publish` recorded, reply validated).
//!
//! Needs the sample plugins: `plugins/build.sh`, then `cargo bench --bench plugin_call`.

use criterion::{criterion_group, criterion_main, Criterion};
use scgate::config::Settings;
use scgate::{Actions, SocketInfo};
use serde_json::value::RawValue;
use std::hint::black_box;
use std::path::Path;

fn ping_hooks() -> std::rc::Rc<dyn scgate::Hooks> {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist");
    assert!(
        dist.join("ping.wasm").is_file(),
        "run plugins/build.sh first"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(dist.join("ping.wasm"), dir.path().join("ping.wasm")).expect("copy ping.wasm");
    let settings = Settings {
        plugins_dir: dir.path().to_string_lossy().into_owned(),
        ..Settings::default()
    };
    let tables: toml::Table = toml::from_str("[ping]\nwasi = true").expect("table");
    let factory = scgate::plugin::load(&settings, &tables).expect("load ping");
    factory(0)
}

fn bench(c: &mut Criterion) {
    let hooks = ping_hooks();
    let info = SocketInfo {
        id: "bench-socket-0000000".into(),
        query: "".into(),
        worker: 0,
        auth_token: None,
    };
    let data = RawValue::from_string("\"This is a PING message\"".into()).expect("json");
    c.bench_function("plugin_call/ping", |b| {
        b.iter(|| {
            let mut actions = Actions::default();
            let outcome = hooks.on_event(&info, "ping", Some(&data), &mut actions);
            black_box((outcome, actions))
        })
    });
    c.bench_function("plugin_call/unregistered_event", |b| {
        b.iter(|| {
            let mut actions = Actions::default();
            black_box(hooks.on_event(&info, "nobody", Some(&data), &mut actions))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
