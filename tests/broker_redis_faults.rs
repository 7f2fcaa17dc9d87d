//! The Redis broker when its engine fails: the shared fault scenarios
//! ([`broker_support::faults`]) against a real server killed, restarted and stalled.

mod broker_support;
mod common;

use broker_support::faults;
use broker_support::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_fails_publishes_fast_counts_the_loss_and_recovers_on_its_own() {
    faults::a_killed_engine_fails_publishes_fast_counts_the_loss_and_recovers_on_its_own::<
        RedisServer,
    >()
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_engine_leaves_memory_bounded_and_counts_what_it_refused() {
    faults::a_stalled_engine_leaves_memory_bounded_and_counts_what_it_refused::<RedisServer>()
        .await;
}
