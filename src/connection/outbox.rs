//! A socket's bounded outbound queue, shared within its worker by the socket's task and the
//! worker's fan-out. The socket's task frames what is queued and writes it in one go. Every
//! frame counts against the bounds (`outbound_queue_frames`, `outbound_queue_bytes`): replies,
//! handshake and auth frames, pings and deliveries alike. When a frame does not fit, the
//! configured [`SlowConsumerPolicy`] applies.

use crate::config::SlowConsumerPolicy;
use crate::gateway::Control;
use crate::hooks::SocketInfo;
use crate::metrics::Metrics;
use crate::protocol::{close, encode::Frame};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

/// Most pending commands (kick-outs, disconnects) for one socket; past it they are dropped and
/// logged. Commands are rare and tiny; the bound only stops a runaway sender.
const MAX_CONTROLS: usize = 64;
/// Queue slots an emptied queue keeps: a reply or two between requests reuse them, and they
/// cost an idle socket a few dozen bytes at most.
const KEPT_QUEUE_CAPACITY: usize = 4;

/// How the socket's task should end the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Closing {
    /// Send a close frame with this code and reason after the frames already queued.
    Send { code: u16, reason: String },
    /// The peer closed, or its stream ended or failed: after the frames queued, answer with a
    /// close frame (the peer's code echoed) and end.
    Finish,
}

impl Closing {
    /// A close with `code` and the reason the gateway gives it.
    pub(crate) fn with_code(code: u16) -> Closing {
        Closing::Send {
            code,
            reason: close::reason(code).into(),
        }
    }
}

/// The outbound side of one socket. Lives in one worker thread only (`Rc`), so plain `Cell`s do.
pub(crate) struct Outbox {
    frames: RefCell<VecDeque<Frame>>,
    /// Bytes of the frames queued.
    bytes: Cell<usize>,
    capacity: usize,
    max_bytes: usize,
    policy: SlowConsumerPolicy,
    closing: RefCell<Option<Closing>>,
    controls: RefCell<VecDeque<Control>>,
    // The socket's task while it waits (a `Cell`: one thread only). It is taken by the first
    // push, close or command, which wakes the task; the task sets it again each time it waits
    // and clears it while it runs, so what it queues itself wakes nothing.
    waker: Cell<Option<Waker>>,
    metrics: Arc<Metrics>,
    // The socket as hooks see it, for calls made on its behalf outside its task (publish-out).
    info: RefCell<SocketInfo>,
}

impl Outbox {
    /// A queue of at most `capacity` frames and `max_bytes` bytes (a larger frame still goes
    /// into an empty queue).
    pub(crate) fn new(
        (capacity, max_bytes): (usize, usize),
        policy: SlowConsumerPolicy,
        metrics: Arc<Metrics>,
        info: SocketInfo,
    ) -> Self {
        Outbox {
            frames: RefCell::default(),
            bytes: Cell::new(0),
            capacity,
            max_bytes,
            policy,
            closing: RefCell::default(),
            controls: RefCell::default(),
            waker: Cell::new(None),
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
        let bytes = self.bytes.get() + frame.len();
        if frames.len() >= self.capacity || (bytes > self.max_bytes && !frames.is_empty()) {
            drop(frames);
            match self.policy {
                SlowConsumerPolicy::DropNewest => Metrics::inc(&self.metrics.slow_consumer_drops),
                SlowConsumerPolicy::Disconnect => {
                    Metrics::inc(&self.metrics.slow_consumer_disconnects);
                    self.discard_frames();
                    self.close(Closing::with_code(close::SLOW_CONSUMER));
                }
            }
            return false;
        }
        self.bytes.set(bytes);
        frames.push_back(frame);
        self.wake();
        true
    }

    /// Queues a protocol frame (a ping, a handshake reply, `#setAuthToken`, `#disconnect`): like
    /// every frame, under the bounds and the slow-consumer policy, so that a client that
    /// provokes them without reading gets no further than one that provokes replies.
    pub(crate) fn push_control_frame(&self, frame: Frame) {
        self.push(frame);
    }

    /// Bytes of the frames queued.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.bytes.get()
    }

    /// Asks the socket's task to end the connection; the first request wins.
    pub(crate) fn close(&self, closing: Closing) {
        let mut slot = self.closing.borrow_mut();
        if slot.is_none() {
            *slot = Some(closing);
            self.wake();
        }
    }

    /// Whether the connection is being closed.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.borrow().is_some()
    }

    /// Queues a command for the socket's task.
    pub(crate) fn push_control(&self, control: Control) {
        let mut controls = self.controls.borrow_mut();
        if controls.len() >= MAX_CONTROLS {
            tracing::warn!(?control, "socket command queue full; command dropped");
            return;
        }
        controls.push_back(control);
        self.wake();
    }

    /// Takes the next queued command.
    pub(crate) fn pop_control(&self) -> Option<Control> {
        self.controls.borrow_mut().pop_front()
    }

    /// Whether commands are queued for the socket's task.
    pub(crate) fn has_controls(&self) -> bool {
        !self.controls.borrow().is_empty()
    }

    /// The close request, if any.
    pub(crate) fn closing(&self) -> Option<Closing> {
        self.closing.borrow().clone()
    }

    /// Takes the oldest queued frame. An emptied queue gives its memory back once it has grown
    /// past a few frames, so an idle socket holds no queue memory worth counting.
    pub(crate) fn pop_frame(&self) -> Option<Frame> {
        let mut frames = self.frames.borrow_mut();
        let frame = frames.pop_front();
        if let Some(frame) = &frame {
            self.bytes.set(self.bytes.get() - frame.len());
        }
        if frames.is_empty() && frames.capacity() > KEPT_QUEUE_CAPACITY {
            *frames = VecDeque::new();
        }
        frame
    }

    /// Whether frames are queued.
    pub(crate) fn has_frames(&self) -> bool {
        !self.frames.borrow().is_empty()
    }

    /// Remembers the socket's task, which is about to wait.
    pub(crate) fn set_waker(&self, waker: &Waker) {
        match self.waker.take() {
            Some(kept) if kept.will_wake(waker) => self.waker.set(Some(kept)),
            _ => self.waker.set(Some(waker.clone())),
        }
    }

    /// Forgets the socket's task while it runs: what it queues itself needs no wake-up.
    pub(crate) fn clear_waker(&self) {
        self.waker.set(None);
    }

    fn wake(&self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// The socket's task has stopped writing: frames still queued are dropped.
    pub(crate) fn discard_frames(&self) {
        *self.frames.borrow_mut() = VecDeque::new();
        self.bytes.set(0);
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
        Outbox::new((2, 10), policy, Arc::default(), info)
    }

    fn drain(out: &Outbox) -> Vec<Frame> {
        std::iter::from_fn(|| out.pop_frame()).collect()
    }

    #[test]
    fn drop_newest_keeps_the_socket_and_counts() {
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
        assert_eq!(drain(&out), vec![Frame::from("a"), Frame::from("b")]);
    }

    #[test]
    fn disconnect_discards_the_queue_and_closes() {
        let out = outbox(SlowConsumerPolicy::Disconnect);
        out.push("a".into());
        out.push("b".into());
        assert!(!out.push("c".into()));
        assert!(drain(&out).is_empty());
        assert!(matches!(
            out.closing(),
            Some(Closing::Send {
                code: close::SLOW_CONSUMER,
                ..
            })
        ));
    }

    #[test]
    fn bytes_count_and_a_large_frame_still_fits_an_empty_queue() {
        let out = outbox(SlowConsumerPolicy::DropNewest);
        assert!(
            out.push("0123456789abcdef".into()),
            "16 bytes into an empty queue"
        );
        assert!(!out.push("x".into()), "past 10 bytes");
        assert_eq!(out.queued_bytes(), 16);
        drain(&out);
        assert_eq!(out.queued_bytes(), 0);
        assert!(out.push("01234".into()) && out.push("56789".into()));
        assert!(!out.push("a".into()));
        // Protocol frames count too.
        drain(&out);
        out.push_control_frame("#1".into());
        out.push_control_frame("".into());
        out.push_control_frame("#1".into());
        assert_eq!(
            drain(&out).len(),
            2,
            "the frame bound applies to protocol frames"
        );
    }

    #[test]
    fn frames_queued_before_a_close_stay_and_later_ones_are_refused() {
        let out = outbox(SlowConsumerPolicy::Disconnect);
        out.push("ack".into());
        out.close(Closing::Finish);
        assert!(!out.push("late".into()));
        assert_eq!(drain(&out), vec![Frame::from("ack")]);
        assert_eq!(out.closing(), Some(Closing::Finish));
    }

    /// Counts its wake-ups.
    struct Counter(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn a_waiting_task_is_woken_once_and_a_running_one_not_at_all() {
        let out = outbox(SlowConsumerPolicy::DropNewest);
        let counter = Arc::new(Counter(Default::default()));
        let waker = Waker::from(counter.clone());
        let woken = || counter.0.load(std::sync::atomic::Ordering::Relaxed);
        out.set_waker(&waker);
        out.push("a".into());
        out.push("b".into());
        assert_eq!(
            woken(),
            1,
            "the first push wakes, the second finds it awake"
        );
        drain(&out);
        out.set_waker(&waker);
        out.clear_waker();
        out.push("c".into());
        out.push_control(Control::Frame("d".into()));
        assert_eq!(woken(), 1, "a running task is not woken by what it queues");
        out.set_waker(&waker);
        out.push_control(Control::Frame("e".into()));
        assert_eq!(woken(), 2, "commands wake a waiting task");
    }
}
