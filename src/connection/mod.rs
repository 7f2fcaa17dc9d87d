//! One WebSocket connection after the upgrade: one task owns the socket ([`ws::WsSocket`]),
//! drives the protocol [`Session`] with what it reads, and writes what the socket's
//! [`outbox::Outbox`] holds, all on the owning worker.

mod actions;
mod auth;
pub(crate) mod budget;
mod events;
mod middleware;
pub(crate) mod outbox;
pub(crate) mod session;
pub(crate) mod ws;

use crate::hooks::SocketInfo;
use crate::metrics::Metrics;
use crate::protocol::close;
use crate::socket_id;
use crate::worker::WorkerCtx;
use outbox::{Closing, Outbox};
use session::Session;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use tokio::time::Sleep;
use ws::{Incoming, ReadError, WsSocket};

/// Serves one upgraded socket until it closes.
pub(crate) async fn run(ctx: Rc<WorkerCtx>, mut ws: WsSocket, query: &str) {
    let key = ctx.next_key();
    let info = SocketInfo {
        id: socket_id::encode(ctx.index, key).into(),
        query: query.into(),
        worker: ctx.index,
        auth_token: None,
    };
    let settings = &ctx.settings;
    let outbox = Rc::new(Outbox::new(
        (
            settings.outbound_queue_frames,
            settings.outbound_queue_bytes,
        ),
        settings.slow_consumer,
        ctx.metrics.clone(),
        info.clone(),
    ));
    ctx.sockets.borrow_mut().insert(key, outbox.clone());
    ws.attach(budget::Holding::new(ctx.budget.clone(), ctx.index, key));
    Metrics::inc(&ctx.metrics.sockets_total);
    Metrics::inc(&ctx.metrics.sockets_open);

    let mut session = Session::new(ctx.clone(), key, info, outbox.clone());
    drive(&mut session, ws).await;
    // Nothing more is written: later pushes (fan-out until `cleanup` leaves the channels) are
    // refused, and what is queued is dropped.
    outbox.close(Closing::Finish);
    outbox.discard_frames();
    Box::pin(session.cleanup()).await;
    ctx.sockets.borrow_mut().remove(&key);
    ctx.metrics.sockets_open.fetch_sub(1, Relaxed);
}

/// What woke the socket's task.
enum Wake {
    Shutdown,
    /// Commands are queued, or a close was requested elsewhere.
    Controls,
    Read(Result<Incoming, ReadError>),
    /// Writing is over: the close handshake's part is sent, or the socket failed.
    WriteOver,
    Timer,
}

/// The socket's life: read and handle, write what is queued, run the timers.
async fn drive(session: &mut Session, mut ws: WsSocket) {
    let shutdown = session.ctx.shutdown.clone();
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    let mut armed = session.next_deadline();
    let timer = tokio::time::sleep_until(armed);
    tokio::pin!(timer);
    let mut io = IoState::default();
    loop {
        let wake = poll_fn(|cx| {
            poll_wake(
                cx,
                session,
                &mut ws,
                &mut io,
                cancelled.as_mut(),
                timer.as_mut(),
            )
        })
        .await;
        match wake {
            Wake::Shutdown => session.close(close::GOING_AWAY, close::reason(close::GOING_AWAY)),
            // Boxed, like the message and cleanup futures: an `async fn` future is as large as
            // its largest await, held for the socket's whole life even while it idles; boxing
            // the plugin-calling paths keeps every idle socket ~2 KB smaller for one short-lived
            // allocation per message.
            Wake::Controls => Box::pin(session.run_controls()).await,
            Wake::Read(Ok(incoming)) => {
                // The last request buffered: its replies wait for one turn (see `IoState`).
                io.yield_before_write = !ws.has_buffered_frame();
                if !Box::pin(on_incoming(session, &ws, incoming)).await {
                    io.reading = false;
                    session.outbox.close(Closing::Finish);
                }
            }
            Wake::Read(Err(ReadError::TooBig(size))) => {
                tracing::debug!(socket = %session.info.id, "closing: a {size}-byte message");
                session.close(
                    close::MESSAGE_TOO_BIG,
                    close::reason(close::MESSAGE_TOO_BIG),
                );
            }
            Wake::Read(Err(ReadError::Unfinished)) => {
                tracing::debug!(socket = %session.info.id, "closing: a message left unfinished");
                session.close(
                    close::MESSAGE_UNFINISHED,
                    close::reason(close::MESSAGE_UNFINISHED),
                );
            }
            Wake::Read(Err(ReadError::Protocol(why))) => {
                tracing::debug!(socket = %session.info.id, "closing: protocol error: {why}");
                io.reading = false;
                session
                    .outbox
                    .close(Closing::with_code(close::PROTOCOL_ERROR));
            }
            Wake::Read(Err(ReadError::Ended(err))) => {
                if let Some(err) = err {
                    tracing::debug!(socket = %session.info.id, "read error: {err}");
                }
                io.reading = false;
                session.outbox.close(Closing::Finish);
            }
            Wake::WriteOver => break,
            Wake::Timer => {
                if !session.on_timer() {
                    break;
                }
                armed = session.next_deadline();
                timer.as_mut().reset(armed);
                continue;
            }
        }
        // Deadlines only move later as traffic arrives; re-arm only when one moved earlier.
        let next = session.next_deadline();
        if next < armed {
            armed = next;
            timer.as_mut().reset(armed);
        }
    }
}

/// The socket task's progress on its two directions.
struct IoState {
    /// Whether the peer may still send (no close frame, no end of stream, no protocol error).
    reading: bool,
    /// Replies to the requests just handled wait until the worker has run every other socket
    /// ready now, by going to the back of the worker's run queue once. The replies of all
    /// those sockets then leave back to back: on loopback and between busy peers, a send
    /// wakes the peer's reading thread, and a peer already woken by the first reply of a burst
    /// is not woken again, which made an RPC through a plugin cost 16 µs of server CPU instead
    /// of 24 (`scload rpc --conns 100`). One more poll of the socket's task per batch of
    /// requests pays for it.
    yield_before_write: bool,
}

impl Default for IoState {
    fn default() -> Self {
        IoState {
            reading: true,
            yield_before_write: false,
        }
    }
}

/// Looks at everything that can wake the socket, in priority order; writes what is queued on
/// the way, so a reply leaves in the same turn as the request that caused it.
fn poll_wake(
    cx: &mut Context<'_>,
    session: &Session,
    ws: &mut WsSocket,
    io: &mut IoState,
    cancelled: Pin<&mut tokio_util::sync::WaitForCancellationFuture<'_>>,
    timer: Pin<&mut Sleep>,
) -> Poll<Wake> {
    let outbox = &session.outbox;
    outbox.clear_waker();
    ws.account(outbox.queued_bytes());
    if std::mem::take(&mut io.yield_before_write) && outbox.has_frames() {
        // To the back of the run queue, without waiting for anything (see `IoState`).
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    if !session.closing() && cancelled.poll(cx).is_ready() {
        return Poll::Ready(Wake::Shutdown);
    }
    if session.needs_controls() {
        return Poll::Ready(Wake::Controls);
    }
    // Requests already buffered are handled before anything is written, so their replies
    // leave together. A socket whose output is stuck is not read from (a peer that sends
    // without reading waits on TCP), here or below; its timers still run.
    if io.reading && !ws.write_backlogged() && ws.has_buffered_frame() {
        if let Poll::Ready(read) = ws.poll_read(cx) {
            return Poll::Ready(Wake::Read(read));
        }
    }
    if let Poll::Ready(over) = poll_write(cx, outbox, ws, io) {
        return Poll::Ready(over);
    }
    if io.reading && !ws.write_backlogged() {
        if let Poll::Ready(read) = ws.poll_read(cx) {
            return Poll::Ready(Wake::Read(read));
        }
    }
    if timer.poll(cx).is_ready() {
        return Poll::Ready(Wake::Timer);
    }
    outbox.set_waker(cx.waker());
    Poll::Pending
}

/// Frames queued frames (then the close frame, once everything before it is out) and writes
/// them. Ready when writing is over for good.
fn poll_write(
    cx: &mut Context<'_>,
    outbox: &Outbox,
    ws: &mut WsSocket,
    io: &IoState,
) -> Poll<Wake> {
    loop {
        while ws.wants_frames() {
            let Some(frame) = outbox.pop_frame() else {
                break;
            };
            ws.queue_text(frame.as_bytes());
        }
        if !ws.close_queued() && !outbox.has_frames() {
            match outbox.closing() {
                Some(Closing::Send { code, reason }) => ws.queue_close(Some(code), &reason),
                // The peer closed (its code is echoed) or the stream ended: the close handshake's
                // last frame.
                Some(Closing::Finish) => ws.queue_close(ws::echo_code(ws.peer_close()), ""),
                None => {}
            }
        }
        match ws.poll_flush(cx) {
            Poll::Ready(Ok(())) if outbox.has_frames() && ws.wants_frames() => continue,
            Poll::Ready(Ok(())) => break,
            Poll::Ready(Err(err)) => {
                tracing::debug!("write ended: {err}");
                return Poll::Ready(Wake::WriteOver);
            }
            Poll::Pending => return Poll::Pending,
        }
    }
    // Everything is written; once the close frame is, the socket only waits for the peer's
    // (while it may still send) or is done.
    if ws.close_queued() && !io.reading {
        return Poll::Ready(Wake::WriteOver);
    }
    Poll::Pending
}

/// Handles what a read produced; returns false when nothing more is to be read.
async fn on_incoming(session: &mut Session, ws: &WsSocket, incoming: Incoming) -> bool {
    match incoming {
        Incoming::Data { binary: false } => match std::str::from_utf8(ws.message()) {
            Ok(text) => session.on_text(text).await,
            Err(_) => {
                session
                    .outbox
                    .close(Closing::with_code(close::INVALID_PAYLOAD));
                return false;
            }
        },
        // Reference servers treat binary frames exactly like text.
        Incoming::Data { binary: true } => match std::str::from_utf8(ws.message()) {
            Ok(text) => session.on_text(text).await,
            Err(_) => session.on_text("\u{fffd}").await,
        },
        Incoming::Heartbeat => session.touch(),
        Incoming::Close(code) => {
            session.peer_closed(code);
            return false;
        }
    }
    true
}
