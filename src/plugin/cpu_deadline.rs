//! The CPU deadline of a plugin call. The epoch ticker (wall-clock) only decides when to look;
//! what is compared with the deadline is the CPU time the calling thread spent since the call
//! began, so a call that a busy machine descheduled is not cut for time it did not run, while a
//! loop is cut after `deadline` of running.

use rustix::time::{clock_gettime, ClockId};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Store, UpdateDeadline};

use super::engine::ticks;

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
            let used = thread_cpu().saturating_sub(started);
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
            .store(thread_cpu().as_nanos() as u64, Relaxed);
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
}
