//! A socket's bounded outbound queue, shared within its worker by the socket's reader, its
//! writer and the worker's fan-out. The writer drains everything queued and flushes once.
//! When the queue is full the configured [`SlowConsumerPolicy`] applies.

use crate::config::SlowConsumerPolicy;
use crate::gateway::Control;
use crate::hooks::SocketInfo;
use crate::metrics::Metrics;
use crate::protocol::{close, encode::Frame};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::Notify;

/// Most pending commands (kick-outs, disconnects) for one socket; past it they are dropped and
/// logged. Commands are rare and tiny; the bound only stops a runaway sender.
const MAX_CONTROLS: usize = 64;

/// How the writer should end the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Closing {
    /// Send a close frame with this code and reason after the frames already queued.
    Send { code: u16, reason: String },
    /// The peer closed or the reader failed: just finish the close handshake.
    Finish,
}

/// The outbound side of one socket. Lives in one worker thread only (`Rc`), so plain `Cell`s do.
pub(crate) struct Outbox {
    frames: RefCell<VecDeque<Frame>>,
    capacity: usize,
    policy: SlowConsumerPolicy,
    closing: RefCell<Option<Closing>>,
    controls: RefCell<VecDeque<Control>>,
    // Notify is used single-threaded here: `notify_one` stores a permit when the writer is not
    // waiting, so a wake-up between its check and its await is never lost.
    writer_wake: Notify,
    // Wakes the reader for queued controls and for a writer that has died.
    reader_wake: Notify,
    writer_done: Cell<bool>,
    metrics: Arc<Metrics>,
    // The socket as hooks see it, for calls made on its behalf outside its reader (publish-out).
    info: RefCell<SocketInfo>,
}

impl Outbox {
    pub(crate) fn new(
        capacity: usize,
        policy: SlowConsumerPolicy,
        metrics: Arc<Metrics>,
        info: SocketInfo,
    ) -> Self {
        Outbox {
            frames: RefCell::default(),
            capacity,
            policy,
            closing: RefCell::default(),
            controls: RefCell::default(),
            writer_wake: Notify::new(),
            reader_wake: Notify::new(),
            writer_done: Cell::new(false),
            metrics,
            info: RefCell::new(info),
        }
    }

    /// The socket as hooks see it.
    pub(crate) fn info(&self) -> SocketInfo {
        self.info.borrow().clone()
    }

    /// Updates the socket as hooks see it (after its auth changed).
    pub(crate) fn set_info(&self, info: SocketInfo) {
        *self.info.borrow_mut() = info;
    }

    /// Queues a data frame under the slow-consumer policy. Returns false if it was not queued.
    pub(crate) fn push(&self, frame: Frame) -> bool {
        if self.closing.borrow().is_some() {
            return false;
        }
        let mut frames = self.frames.borrow_mut();
        if frames.len() >= self.capacity {
            drop(frames);
            match self.policy {
                SlowConsumerPolicy::DropNewest => Metrics::inc(&self.metrics.slow_consumer_drops),
                SlowConsumerPolicy::Disconnect => {
                    Metrics::inc(&self.metrics.slow_consumer_disconnects);
                    self.frames.borrow_mut().clear();
                    let code = close::SLOW_CONSUMER;
                    self.close(Closing::Send {
                        code,
                        reason: close::reason(code).into(),
                    });
                }
            }
            return false;
        }
        frames.push_back(frame);
        if frames.len() == 1 {
            self.writer_wake.notify_one();
        }
        true
    }

    /// Queues a heartbeat or protocol frame past the capacity: each is tiny and bounded in
    /// number by the protocol (one ping per interval, one reply per request).
    pub(crate) fn push_control_frame(&self, frame: Frame) {
        if self.closing.borrow().is_none() {
            self.frames.borrow_mut().push_back(frame);
            self.writer_wake.notify_one();
        }
    }

    /// Asks the writer to end the connection; the first request wins.
    pub(crate) fn close(&self, closing: Closing) {
        let mut slot = self.closing.borrow_mut();
        if slot.is_none() {
            *slot = Some(closing);
            self.writer_wake.notify_one();
            self.reader_wake.notify_one();
        }
    }

    /// Whether the connection is being closed.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.borrow().is_some()
    }

    /// Queues a command for the socket's reader.
    pub(crate) fn push_control(&self, control: Control) {
        let mut controls = self.controls.borrow_mut();
        if controls.len() >= MAX_CONTROLS {
            tracing::warn!(?control, "socket command queue full; command dropped");
            return;
        }
        controls.push_back(control);
        self.reader_wake.notify_one();
    }

    /// Takes the next queued command.
    pub(crate) fn pop_control(&self) -> Option<Control> {
        self.controls.borrow_mut().pop_front()
    }

    /// Waits until the reader has something to look at (a command, a close, a dead writer).
    pub(crate) async fn reader_wakeup(&self) {
        self.reader_wake.notified().await
    }

    /// Waits for frames and moves all of them into `batch`; returns the close request once
    /// every frame queued before it has been handed out.
    pub(crate) async fn next_batch(&self, batch: &mut Vec<Frame>) -> Option<Closing> {
        loop {
            {
                let mut frames = self.frames.borrow_mut();
                if !frames.is_empty() {
                    // Moved with its allocation, not drained into a kept buffer: the writer frees
                    // it after the write, so an idle socket holds no queue memory at all.
                    let taken = std::mem::take(&mut *frames);
                    if batch.is_empty() {
                        *batch = Vec::from(taken);
                    } else {
                        batch.extend(taken);
                    }
                    return None;
                }
            }
            if let Some(closing) = self.closing.borrow().clone() {
                return Some(closing);
            }
            self.writer_wake.notified().await;
        }
    }

    /// The writer has finished (closed or failed): nothing more will be sent.
    pub(crate) fn mark_writer_done(&self) {
        self.writer_done.set(true);
        self.frames.borrow_mut().clear();
        self.reader_wake.notify_one();
    }

    /// Whether the writer has finished.
    pub(crate) fn writer_done(&self) -> bool {
        self.writer_done.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(policy: SlowConsumerPolicy) -> Outbox {
        let info = SocketInfo {
            id: "test".into(),
            query: "".into(),
            worker: 0,
            auth_token: None,
        };
        Outbox::new(2, policy, Arc::default(), info)
    }

    #[tokio::test]
    async fn drop_newest_keeps_the_socket_and_counts() {
        let out = outbox(SlowConsumerPolicy::DropNewest);
        assert!(out.push("a".into()) && out.push("b".into()));
        assert!(!out.push("c".into()));
        assert!(!out.is_closing());
        assert_eq!(
            out.metrics
                .slow_consumer_drops
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        let mut batch = Vec::new();
        assert_eq!(out.next_batch(&mut batch).await, None);
        assert_eq!(batch, vec![Frame::from("a"), Frame::from("b")]);
    }

    #[tokio::test]
    async fn disconnect_discards_the_queue_and_closes() {
        let out = outbox(SlowConsumerPolicy::Disconnect);
        out.push("a".into());
        out.push("b".into());
        assert!(!out.push("c".into()));
        let mut batch = Vec::new();
        let closing = out.next_batch(&mut batch).await;
        assert!(batch.is_empty());
        assert!(matches!(
            closing,
            Some(Closing::Send {
                code: close::SLOW_CONSUMER,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn queued_frames_go_out_before_a_requested_close() {
        let out = outbox(SlowConsumerPolicy::Disconnect);
        out.push("ack".into());
        out.close(Closing::Finish);
        let mut batch = Vec::new();
        assert_eq!(out.next_batch(&mut batch).await, None);
        assert_eq!(batch.len(), 1);
        assert_eq!(out.next_batch(&mut batch).await, Some(Closing::Finish));
    }
}
