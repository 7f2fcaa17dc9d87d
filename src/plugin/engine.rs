//! The wasmtime engine, configured once: the component model, epoch interruption for per-call
//! CPU deadlines, the thread that advances the epoch, and compiling with an in-memory and an
//! on-disk cache.

use super::artifact_cache::{ArtifactCache, Source};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of plugin deadlines. Short enough that a 100 ms
/// deadline overshoots by at most a tenth, long enough that the ticker costs nothing.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Guest stack limit: generous for real code, small enough that runaway recursion traps fast.
const MAX_WASM_STACK: usize = 1024 * 1024;

/// The process's engine: one per process, so compiled components are shared by every gateway
/// the process starts (tests start many) and compiled once.
pub fn shared_engine() -> anyhow::Result<Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.clone());
    }
    let engine = new_engine()?;
    Ok(ENGINE.get_or_init(|| engine).clone())
}

/// Most compiled components kept in memory, keyed by content hash: bounds the cache while
/// covering any realistic set of plugins (and a few reloads of each).
const COMPILED_CACHE_ENTRIES: usize = 64;

/// Compiles `bytes`, or returns the component compiled earlier in this process from the same
/// bytes. No disk cache: see [`compile_cached`].
pub fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    compile_cached(engine, bytes, None).map(|(component, _)| component)
}

/// Compiles `bytes`, looking first in this process's memory, then in the on-disk cache in
/// `cache_dir` (if any: [`ArtifactCache`]), and writing what it compiles to both. Returns
/// where the component came from (a memory hit reports [`Source::Cache`]).
pub fn compile_cached(
    engine: &Engine,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> wasmtime::Result<(Component, Source)> {
    type Cache = Mutex<HashMap<[u8; 32], Component>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key: [u8; 32] = Sha256::digest(bytes).into();
    // The std Mutex guards a map lookup or insert only; compiling happens outside it.
    let cache = CACHE.get_or_init(Cache::default);
    let cached = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned();
    if let Some(component) = cached.filter(|c| Engine::same(c.engine(), engine)) {
        return Ok((component, Source::Cache));
    }
    let (component, source) = match cache_dir {
        Some(dir) => ArtifactCache::new(dir, engine).load_or_compile(engine, &key, bytes)?,
        None => (Component::new(engine, bytes)?, Source::Compiled),
    };
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= COMPILED_CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(key, component.clone());
    Ok((component, source))
}

/// The folder of the on-disk compile cache that `plugin_cache_dir` names: `None` when it is
/// empty (disabled), a leading `~/` is the user's home (`None` without `$HOME`).
pub fn cache_dir(setting: &str) -> Option<PathBuf> {
    if setting.is_empty() {
        return None;
    }
    match setting.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(rest)),
        None => Some(PathBuf::from(setting)),
    }
}

/// Pool sizes: slots are reserved address space, committed only as used. They bound the plugin
/// instances one process can hold at once (one per plugin per worker, plus replacements after
/// traps) and the size of each; past a bound, instantiating fails with a clear error.
fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_INSTANCES)
        // Python and JS components hold many core instances each (componentize-py and
        // componentize-js splice interpreter, libc and glue modules): 8 per component ran out
        // at 64 workers × 4 such plugins. A core-instance slot is a count, not reserved memory.
        .total_core_instances(POOL_INSTANCES * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 8)
        .max_memories_per_module(2)
        .max_tables_per_module(8)
        .max_memories_per_component(8)
        .max_tables_per_component(32)
        .table_elements(MAX_POOLED_TABLE_ELEMENTS)
        .max_core_instance_size(16 << 20)
        .max_component_instance_size(4 << 20)
        .max_memory_size(MAX_POOLED_MEMORY_BYTES)
        // An async store keeps the fiber stack of its last call for the next one, so every
        // live plugin instance holds a stack, not only the one running.
        .total_stacks(POOL_INSTANCES);
    pool
}

/// Component instances the pool holds: 64 workers × a few plugins, with room for replacements.
const POOL_INSTANCES: u32 = 256;
/// Core instances one component may hold, on average over the pool: the Python and JS
/// components (12–18 MB) loaded 64 workers × 4 plugins with 16, not with 8.
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// Largest linear memory a pooled instance may have; `plugin_memory_bytes` may not exceed it.
pub const MAX_POOLED_MEMORY_BYTES: usize = 1 << 30;
/// Largest table a pooled instance may have; `plugin_max_table_elements` applies below it.
const MAX_POOLED_TABLE_ELEMENTS: usize = 1_000_000;

/// Builds an engine and starts its epoch ticker (a std thread that ends with the engine).
pub fn new_engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Interrupts guest code at its deadline; each store sets its deadline before each call.
    config.epoch_interruption(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    // Guest calls take wasmtime's plain fiber path instead of its component-model-async task
    // machinery (call queue, task bookkeeping, scheduler), which no plugin interface here uses
    // (the guests' WASI is p2): an RPC through the `ping` plugin measured 24 µs of server CPU
    // with it off, 34 µs with it on.
    config.concurrency_support(false);
    // The pooling allocator reuses fiber stacks and instance slots. With the default on-demand
    // allocator every async guest call maps and unmaps a fresh fiber stack, which measured
    // ~30 µs per call (a `ping` RPC cost 41 µs of server CPU against 10 µs for a native handler).
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool()));
    let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("wasmtime engine: {e}"))?;
    let weak = engine.weak();
    // A std thread, not a task: guest code blocks its worker thread, so the ticker must not
    // depend on any worker's runtime getting a turn.
    std::thread::Builder::new()
        .name("scgate-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        })?;
    Ok(engine)
}

/// Drives a guest call to completion on the calling thread, without entering any async runtime.
///
/// A call only pends when the guest waits on WASI (a timer, a stream); the stub WASI context has
/// nothing that wakes it, so a pending call is polled again until `budget` of wall-clock time has
/// passed and then dropped, which cancels it (the caller discards the instance). Guest code that
/// runs is bounded by the epoch deadline instead.
///
/// It runs inside a tokio runtime context, as wasmtime-wasi's futures expect (its timers are
/// tokio timers, which panic without one): the worker's, or on a thread that has none
/// (`check-plugin`, the reload thread) a fallback that is never driven, so a guest's wait ends
/// the same way everywhere: cut at the budget. Without a runtime at all, the call fails at once.
pub fn run_until<F: Future>(call: F, budget: Duration) -> Option<F::Output> {
    let _fallback = match tokio::runtime::Handle::try_current() {
        Ok(_) => None,
        Err(_) => Some(fallback_runtime()?.enter()),
    };
    let deadline = Instant::now() + budget;
    let mut call = std::pin::pin!(call);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = call.as_mut().poll(&mut cx) {
            return Some(output);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::yield_now();
    }
}

/// The runtime context for guest calls on a thread that has none. Never driven: like a worker's
/// runtime during a guest call, its timers never fire. `None` if it cannot be built.
fn fallback_runtime() -> Option<&'static tokio::runtime::Runtime> {
    // Built once, on first use: calls on worker threads, the common case, never need it.
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .inspect_err(|e| tracing::error!("no runtime for guest calls off workers: {e}"))
                .ok()
        })
        .as_ref()
}

/// Epoch ticks for a deadline in milliseconds (at least one).
pub fn ticks(deadline_ms: u64) -> u64 {
    (deadline_ms / EPOCH_TICK.as_millis() as u64).max(1)
}
