//! A worker's dispatcher: takes deliveries from the broker and commands for its sockets, and
//! hands them to the sockets' outboxes. It never waits on a socket, so one slow socket cannot
//! hold up the rest: a full outbox is the slow-consumer policy's business.

use super::WorkerCtx;
use crate::broker::Delivery;
use crate::gateway::Control;
use crate::metrics::Metrics;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::mpsc;

/// Deliveries taken from the inbox per wake-up: amortises the wake-up over a burst while
/// keeping commands interleaved with long bursts.
const BATCH: usize = 256;

pub(super) async fn run(
    ctx: Rc<WorkerCtx>,
    mut deliveries: mpsc::Receiver<Delivery>,
    mut controls: mpsc::Receiver<(u64, Control)>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = deliveries.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                for delivery in batch.drain(..) {
                    deliver(&ctx, delivery);
                }
            }
            Some((key, control)) = controls.recv() => command(&ctx, key, control),
        }
    }
}

fn deliver(ctx: &WorkerCtx, delivery: Delivery) {
    let channels = ctx.channels.borrow();
    let mut count = 0;
    for outbox in channels.subscribers(&delivery.channel) {
        if outbox.push(delivery.frame.clone()) {
            count += 1;
        }
    }
    ctx.metrics.deliveries.fetch_add(count, Relaxed);
}

fn command(ctx: &WorkerCtx, key: u64, control: Control) {
    let Some(outbox) = ctx.sockets.borrow().get(&key).cloned() else {
        return;
    };
    match control {
        Control::Frame(frame) => {
            if outbox.push(frame) {
                Metrics::inc(&ctx.metrics.deliveries);
            }
        }
        other => outbox.push_control(other),
    }
}
