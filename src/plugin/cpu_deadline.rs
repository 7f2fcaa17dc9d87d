//! The CPU deadline of a plugin call. The epoch ticker (wall-clock) only decides when to look;
//! what is compared with the deadline is the CPU time the calling thread spent since the call
//! began, so a call that a busy machine descheduled is not cut for time it did not run, while a
//! loop is cut after `deadline` of running.
//!
//! Reading a thread's CPU clock is a system call (~1 µs here: no vDSO for it), a sixth of a whole
//! plugin call. So a call does not always read it when it starts: it reuses its thread's reading
//! when that is less than [`REUSE_WITHIN`] of wall-clock time old (the wall clock is a vDSO read),
//! and so at most that much of the thread's CPU early. The check allows that much more: a call is
//! cut after `deadline` to `deadline` + 2 ticks of its own CPU, and a busy thread reads the CPU
//! clock about once per tick instead of once per call.

use rustix::time::{clock_gettime, ClockId};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{Store, UpdateDeadline};

use super::engine::{ticks, EPOCH_TICK};

/// How old a thread's CPU reading may be and still start a call's budget: one epoch tick, the
/// granularity the deadline has anyway.
const REUSE_WITHIN: Duration = EPOCH_TICK;

thread_local! {
    /// This thread's last CPU clock reading, and when (wall clock) it was taken. A `Cell`: only
    /// this thread reads or writes it.
    static LAST_READING: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
}

/// This thread's CPU time as of a moment at most [`REUSE_WITHIN`] ago.
fn recent_thread_cpu() -> Duration {
    let now = Instant::now();
    LAST_READING.with(|last| match last.get() {
        Some((taken, cpu)) if now.duration_since(taken) < REUSE_WITHIN => cpu,
        _ => {
            let cpu = thread_cpu();
            last.set(Some((now, cpu)));
            cpu
        }
    })
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let now = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// One store's deadline: its limit, and the thread CPU time at the start of the current call.
pub struct CpuDeadline {
    // An atomic only because wasmtime's callback must be Send + Sync: it is written when a call
    // starts and read by the callback during that call, both on the thread running the call.
    started_ns: Arc<AtomicU64>,
    limit: Duration,
}

impl CpuDeadline {
    /// Installs the deadline check on `store` (armed for a first call).
    pub fn install<T: 'static>(store: &mut Store<T>, limit_ms: u64) -> CpuDeadline {
        let deadline = CpuDeadline {
            started_ns: Arc::default(),
            limit: Duration::from_millis(limit_ms),
        };
        let (started_ns, limit) = (deadline.started_ns.clone(), deadline.limit);
        store.epoch_deadline_callback(move |_| {
            let started = Duration::from_nanos(started_ns.load(Relaxed));
            // The start may be one tick of CPU early (`recent_thread_cpu`).
            let used = thread_cpu().saturating_sub(started + REUSE_WITHIN);
            if used >= limit {
                return Ok(UpdateDeadline::Interrupt);
            }
            // Look again when the rest of the budget would be spent if the call ran from now on.
            Ok(UpdateDeadline::Continue(ticks(
                (limit - used).as_millis() as u64
            )))
        });
        deadline.arm(store);
        deadline
    }

    /// Starts the budget of a call.
    pub fn arm<T: 'static>(&self, store: &mut Store<T>) {
        self.started_ns
            .store(recent_thread_cpu().as_nanos() as u64, Relaxed);
        store.set_epoch_deadline(ticks(self.limit.as_millis() as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_time_counts_running_not_sleeping() {
        let before = thread_cpu();
        std::thread::sleep(Duration::from_millis(30));
        let slept = thread_cpu() - before;
        let spin_until = std::time::Instant::now() + Duration::from_millis(30);
        while std::time::Instant::now() < spin_until {
            std::hint::spin_loop();
        }
        let spun = thread_cpu() - before - slept;
        assert!(slept < Duration::from_millis(10), "sleeping used {slept:?}");
        assert!(
            spun >= Duration::from_millis(15),
            "spinning used only {spun:?}"
        );
    }

    #[test]
    fn a_recent_reading_is_reused_within_a_tick_and_refreshed_after() {
        let started = Instant::now();
        let first = recent_thread_cpu();
        // Burn CPU well under a tick: the reading is reused, though the clock moved.
        while started.elapsed() < REUSE_WITHIN / 5 {
            std::hint::spin_loop();
        }
        let again = recent_thread_cpu();
        // (A thread descheduled past the tick meanwhile has rightly taken a new reading.)
        if started.elapsed() < REUSE_WITHIN {
            assert_eq!(again, first);
        }
        std::thread::sleep(REUSE_WITHIN * 2);
        let later = recent_thread_cpu();
        assert!(later > first, "not refreshed: {later:?} after {first:?}");
        assert!(thread_cpu() - later < REUSE_WITHIN);
    }
}
