//! A worker's dispatcher: takes deliveries from the broker and commands for its sockets, and
//! hands them to the sockets' outboxes. It never waits on a socket, so one slow socket cannot
//! hold up the rest: a full outbox is the slow-consumer policy's business.

use super::WorkerCtx;
use crate::broker::Delivery;
use crate::connection::outbox::Outbox;
use crate::gateway::Control;
use crate::hooks::{Actions, Verdict};
use crate::metrics::Metrics;
use crate::protocol::{decode, encode};
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
    if ctx.hooks.wants_publish_out() {
        return deliver_filtered(ctx, delivery);
    }
    let channels = ctx.channels.borrow();
    let mut count = 0;
    for outbox in channels.subscribers(&delivery.channel) {
        if outbox.push(delivery.frame.clone()) {
            count += 1;
        }
    }
    ctx.metrics.deliveries.fetch_add(count, Relaxed);
}

/// Delivery through publish-out middleware: one call per subscriber, which may drop the frame or
/// rewrite it (re-encoding for that subscriber only).
fn deliver_filtered(ctx: &WorkerCtx, delivery: Delivery) {
    let subscribers: Vec<Rc<Outbox>> = ctx
        .channels
        .borrow()
        .subscribers(&delivery.channel)
        .cloned()
        .collect();
    let data = decode::publish_data(delivery.frame.as_str());
    let mut actions = Actions::default();
    let mut count = 0;
    for outbox in subscribers {
        let info = outbox.info();
        let frame =
            match ctx
                .hooks
                .publish_out(&info, &delivery.channel, data.as_deref(), &mut actions)
            {
                Verdict::Allow => delivery.frame.clone(),
                Verdict::Rewrite(data) => encode::publish(&delivery.channel, Some(data.get())),
                Verdict::Block(_) | Verdict::BlockSilently => continue,
            };
        if outbox.push(frame) {
            count += 1;
        }
    }
    ctx.metrics.deliveries.fetch_add(count, Relaxed);
    if !actions.0.is_empty() {
        tokio::task::spawn_local(crate::hooks::apply_detached(ctx.gateway.clone(), actions));
    }
}

fn command(ctx: &WorkerCtx, key: u64, control: Control) {
    if let Control::PluginsStatus(reply) = control {
        // The admin listener may have stopped waiting; nothing to do then.
        let _ = reply.send(ctx.hooks.plugins_status());
        return;
    }
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
