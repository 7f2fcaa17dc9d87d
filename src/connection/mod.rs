//! One WebSocket connection after the upgrade: a reader that drives the protocol [`Session`] and
//! a writer that drains the socket's [`outbox::Outbox`], both in one task on the owning worker.

mod actions;
mod auth;
mod events;
mod middleware;
pub(crate) mod outbox;
pub(crate) mod session;

use crate::hooks::SocketInfo;
use crate::metrics::Metrics;
use crate::protocol::{close, encode::Frame};
use crate::socket_id;
use crate::worker::WorkerCtx;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use outbox::{Closing, Outbox};
use session::{Session, CLOSE_LINGER};
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// The two halves of a split WebSocket stream, as [`run`] takes them.
pub(crate) type WsHalves<S> = (
    SplitSink<WebSocketStream<S>, Message>,
    SplitStream<WebSocketStream<S>>,
);

/// Serves one upgraded socket, split with [`StreamExt::split`], until it closes.
///
/// It takes the halves rather than the stream: an `async fn` keeps its arguments in every state
/// of its future, and an idle socket's memory is mostly that future, so a whole stream moved in
/// would be held twice (once as the spent argument, once in the halves' shared allocation).
pub(crate) async fn run<S>(ctx: Rc<WorkerCtx>, (sink, stream): WsHalves<S>, query: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let key = ctx.next_key();
    let info = SocketInfo {
        id: socket_id::encode(ctx.index, key).into(),
        query: query.into(),
        worker: ctx.index,
        auth_token: None,
    };
    let settings = &ctx.settings;
    let outbox = Rc::new(Outbox::new(
        settings.outbound_queue_frames,
        settings.slow_consumer,
        ctx.metrics.clone(),
        info.clone(),
    ));
    ctx.sockets.borrow_mut().insert(key, outbox.clone());
    Metrics::inc(&ctx.metrics.sockets_total);
    Metrics::inc(&ctx.metrics.sockets_open);

    let mut session = Session::new(ctx.clone(), key, info, outbox.clone());
    let writer = write_loop(sink, &outbox);
    tokio::pin!(writer);
    let mut writer_finished = false;
    {
        let reader = read_loop(&mut session, stream);
        tokio::pin!(reader);
        loop {
            tokio::select! {
                _ = &mut reader => break,
                _ = &mut writer, if !writer_finished => writer_finished = true,
            }
        }
    }
    outbox.close(Closing::Finish);
    if !writer_finished {
        // A peer that stopped reading cannot hold the task (and its memory) for ever.
        let _ = tokio::time::timeout(CLOSE_LINGER, writer).await;
    }
    Box::pin(session.cleanup()).await;
    ctx.sockets.borrow_mut().remove(&key);
    ctx.metrics.sockets_open.fetch_sub(1, Relaxed);
}

async fn read_loop<S>(session: &mut Session, mut stream: SplitStream<WebSocketStream<S>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shutdown = session.ctx.shutdown.clone();
    let mut armed = session.next_deadline();
    let timer = tokio::time::sleep_until(armed);
    tokio::pin!(timer);
    loop {
        if session.outbox.writer_done() && !session.closing() {
            break;
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled(), if !session.closing() => {
                session.close(close::GOING_AWAY, close::reason(close::GOING_AWAY));
            }
            _ = session.outbox.reader_wakeup() => {
                // Boxed, like the message and cleanup futures below: an `async fn` future is as
                // large as its largest await, held for the socket's whole life even while it
                // idles; boxing the plugin-calling paths keeps every idle socket ~2 KB smaller
                // for one short-lived allocation per message.
                Box::pin(session.run_controls()).await;
            }
            message = stream.next() => match message {
                Some(Ok(message)) => {
                    if !Box::pin(on_message(session, message)).await {
                        break;
                    }
                }
                Some(Err(WsError::Capacity(err))) => {
                    tracing::debug!(socket = %session.info.id, "closing: {err}");
                    session.close(close::MESSAGE_TOO_BIG, close::reason(close::MESSAGE_TOO_BIG));
                }
                Some(Err(err)) => {
                    tracing::debug!(socket = %session.info.id, "read error: {err}");
                    break;
                }
                None => break,
            },
            _ = &mut timer => {
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

/// Handles one inbound message; returns false when the reader should stop.
async fn on_message(session: &mut Session, message: Message) -> bool {
    match message {
        Message::Text(text) => session.on_text(text.as_str()).await,
        // Reference servers treat binary frames exactly like text.
        Message::Binary(bytes) => match std::str::from_utf8(&bytes) {
            Ok(text) => session.on_text(text).await,
            Err(_) => session.on_text("\u{fffd}").await,
        },
        Message::Close(frame) => {
            session.peer_closed(frame.map(|f| f.code.into()));
            return false;
        }
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => session.touch(),
    }
    true
}

/// Drains the outbox into the socket: everything queued is fed, then flushed once.
async fn write_loop<S>(mut sink: SplitSink<WebSocketStream<S>, Message>, outbox: &Outbox)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut batch: Vec<Frame> = Vec::new();
    let result: Result<(), WsError> = async {
        loop {
            let closing = outbox.next_batch(&mut batch).await;
            // Taken, so the batch's memory is freed once written (see `Outbox::next_batch`).
            for frame in std::mem::take(&mut batch) {
                sink.feed(Message::Text(frame)).await?;
            }
            match closing {
                None => sink.flush().await?,
                Some(Closing::Send { code, reason }) => {
                    let frame = CloseFrame {
                        code: code.into(),
                        reason: reason.into(),
                    };
                    return sink.send(Message::Close(Some(frame))).await;
                }
                Some(Closing::Finish) => return sink.close().await,
            }
        }
    }
    .await;
    if let Err(err) = result {
        tracing::debug!("write ended: {err}");
    }
    outbox.mark_writer_done();
}
