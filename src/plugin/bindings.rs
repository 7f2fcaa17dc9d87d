//! The one `bindgen!` of the plugin WIT (`wit/plugin.wit`, world `plugin`): host traits for the
//! imports and typed handles for every export, shared by the whole plugin runtime.

// Exports are called asynchronously: wasmtime-wasi's synchronous bindings block on a tokio
// runtime, which panics inside a worker's runtime. Host imports stay synchronous.
wasmtime::component::bindgen!({
    path: "wit",
    world: "plugin",
    exports: { default: async },
});

pub use exports::scgate::plugin::{handler, lifecycle, middleware};
pub use scgate::plugin::{host, types};
