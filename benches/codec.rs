//! The protocol codec on the hot paths: decoding an inbound event, encoding a `#publish`
//! delivery (done once per message, shared by every subscriber) and a reply.

use criterion::{criterion_group, criterion_main, Criterion};
use scgate::protocol::{decode, encode};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let event =
        r#"{"event":"ping","data":{"t":1732600000000000,"p":"xxxxxxxxxxxxxxxx"},"cid":12345}"#;
    c.bench_function("codec/decode_event", |b| {
        b.iter(|| black_box(decode(black_box(event))))
    });
    let batch = format!("[{event},{event},{event},{event}]");
    c.bench_function("codec/decode_batch_of_4", |b| {
        b.iter(|| black_box(decode(black_box(&batch))))
    });
    let data = r#"{"t":1732600000000000,"p":"xxxxxxxxxxxxxxxx"}"#;
    c.bench_function("codec/encode_publish", |b| {
        b.iter(|| black_box(encode::publish(black_box("pong"), Some(black_box(data)))))
    });
    c.bench_function("codec/encode_response", |b| {
        b.iter(|| black_box(encode::response(black_box(12345), Some(black_box(data)))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
