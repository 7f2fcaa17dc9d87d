//! The server side of one WebSocket connection over its TCP stream, driven by polling from the
//! connection's single task: reads are parsed and unmasked in place in one buffer, writes are
//! framed into one buffer and written when the socket takes them. One owner, no locks, no
//! per-message allocation for whole messages, and no buffer held by an idle socket.
//!
//! What a peer can make it hold is bounded: one pong at most waits to be written (the latest
//! ping's, as RFC 6455 allows), a socket whose output is stuck is not read from (see
//! [`WsSocket::write_backlogged`]), a fragmented message must be complete within
//! `Limits::message_time`, and what the socket holds is reported to the process-wide budget
//! ([`super::budget`]).

pub(crate) mod frame;

use super::budget::Holding;
use frame::Opcode;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio_util::io::poll_read_buf;

/// Sizes from the settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Largest message (all its fragments) accepted; a larger one is skipped and reported.
    pub max_message: usize,
    /// The most one read takes from the socket (and the buffer's first size).
    pub read_chunk: usize,
    /// Bytes framed ahead before they are written; frames beyond wait in the outbox.
    pub write_chunk: usize,
    /// Longest a fragmented message may take from its first fragment to its last.
    pub message_time: std::time::Duration,
}

/// What a read produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A whole text or binary message; its bytes are [`WsSocket::message`] until the next read.
    Data { binary: bool },
    /// A ping (its pong is already queued) or a pong.
    Heartbeat,
    /// The peer's close frame, with its code if it sent one.
    Close(Option<u16>),
}

/// Why reading stopped or a message was refused.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// A message over `max_message`: its bytes are skipped, later frames still read.
    TooBig(u64),
    /// The peer broke the framing rules: the connection must fail with 1002.
    Protocol(String),
    /// A fragmented message still unfinished `Limits::message_time` after its first fragment.
    Unfinished,
    /// The peer closed the TCP stream (or reading failed).
    Ended(Option<io::Error>),
}

/// Where the last whole message's bytes are.
#[derive(Debug)]
enum Last {
    None,
    /// In the read buffer (an unfragmented message, the common case).
    InBuffer(Range<usize>),
    /// Reassembled from fragments.
    Assembled(Vec<u8>),
}

pub(crate) struct WsSocket {
    stream: TcpStream,
    limits: Limits,
    /// Bytes read and not yet consumed start at `rpos`.
    rbuf: Vec<u8>,
    rpos: usize,
    /// Payload bytes of a refused oversize frame still to discard.
    skip: u64,
    /// Bytes still missing of the frame at the front of the buffer (0 when none is cut).
    missing: usize,
    /// The message being reassembled from fragments: whether binary, and its bytes so far.
    fragment: Option<(bool, Vec<u8>)>,
    /// When the message being reassembled started (read only when a fragment is open).
    fragment_started: Option<std::time::Instant>,
    /// The payload of the latest ping not yet answered: one pong at most ever waits.
    pong: Option<Vec<u8>>,
    last: Last,
    /// Framed output; written from `wpos`.
    wbuf: Vec<u8>,
    wpos: usize,
    /// Whether a close frame has been queued (nothing may follow it).
    close_queued: bool,
    /// The peer's close frame, once it has arrived (nothing more is read), with its code.
    peer_close: Option<Option<u16>>,
    /// This socket's account with the process-wide budget, once the connection has one.
    holding: Option<Holding>,
}

impl WsSocket {
    /// Wraps an upgraded stream; `read_ahead` holds bytes the HTTP layer read past the request.
    pub(crate) fn new(stream: TcpStream, read_ahead: &[u8], limits: Limits) -> Self {
        WsSocket {
            stream,
            limits,
            rbuf: read_ahead.to_vec(),
            rpos: 0,
            skip: 0,
            missing: 0,
            fragment: None,
            fragment_started: None,
            pong: None,
            last: Last::None,
            wbuf: Vec::new(),
            wpos: 0,
            close_queued: false,
            peer_close: None,
            holding: None,
        }
    }

    /// Reports what this socket holds to the process-wide budget from now on.
    pub(crate) fn attach(&mut self, holding: Holding) {
        self.holding = Some(holding);
    }

    /// Tells the budget what the socket holds now, with `queued` bytes waiting in its outbox:
    /// messages being read (the read buffer, a fragment) and output (the write buffer and the
    /// queue). Touches shared state only when the holding crosses a reporting step.
    pub(crate) fn account(&mut self, queued: usize) {
        if let Some(holding) = self.holding.as_mut() {
            let fragment = self.fragment.as_ref().map_or(0, |(_, b)| b.capacity());
            holding.update(
                self.rbuf.capacity() + fragment,
                self.wbuf.capacity() + queued,
            );
        }
    }

    /// Whether output is stuck: as much is framed and unwritten as one write takes. The
    /// socket's task stops reading until the peer takes some, so a peer that sends without
    /// reading is held back by TCP instead of filling the gateway's memory.
    pub(crate) fn write_backlogged(&self) -> bool {
        self.wbuf.len() - self.wpos >= self.limits.write_chunk.max(1)
    }

    /// The bytes of the message the last read returned as [`Incoming::Data`].
    pub(crate) fn message(&self) -> &[u8] {
        match &self.last {
            Last::None => &[],
            Last::InBuffer(range) => &self.rbuf[range.clone()],
            Last::Assembled(bytes) => bytes,
        }
    }

    /// Whether a whole frame is already buffered (so a read needs no system call).
    pub(crate) fn has_buffered_frame(&self) -> bool {
        if self.peer_close.is_some() {
            return false;
        }
        let buffered = &self.rbuf[self.rpos..];
        match frame::parse_header(buffered) {
            Ok(Some(h)) => {
                self.skip == 0 && (buffered.len() as u64) >= h.header_len as u64 + h.payload_len
            }
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Reads the next message, ping, pong or close. Heartbeats are answered here.
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, ReadError>> {
        self.last = Last::None;
        loop {
            if self.peer_close.is_some() {
                return Poll::Ready(Err(ReadError::Ended(None)));
            }
            if let Some(ready) = self.next_buffered()? {
                return Poll::Ready(Ok(ready));
            }
            std::task::ready!(self.poll_fill(cx))?;
        }
    }

    /// Parses the next whole frame in the buffer; `Ok(None)` when more bytes are needed.
    fn next_buffered(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min((self.rbuf.len() - self.rpos) as u64);
                self.rpos += n as usize;
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(None);
                }
            }
            let Some(h) = frame::parse_header(&self.rbuf[self.rpos..]).map_err(protocol)? else {
                return Ok(None);
            };
            let so_far = self.fragment.as_ref().map_or(0, |(_, bytes)| bytes.len());
            if !h.opcode.is_control()
                && h.payload_len + so_far as u64 > self.limits.max_message as u64
            {
                // Refused without buffering it: its payload is skipped as it arrives.
                self.rpos += h.header_len;
                self.skip = h.payload_len;
                self.fragment = None;
                return Err(ReadError::TooBig(h.payload_len + so_far as u64));
            }
            let start = self.rpos + h.header_len;
            let end = start + h.payload_len as usize;
            if self.rbuf.len() < end {
                // The whole frame is needed before it is handled: make room for it at once, and
                // no more (`reserve` would double the buffer each time a small frame is cut at
                // the end of a read, and reads fill whatever room there is).
                self.missing = end - self.rbuf.len();
                self.rbuf.reserve_exact(self.missing);
                return Ok(None);
            }
            self.missing = 0;
            frame::unmask(&mut self.rbuf[start..end], h.mask);
            self.rpos = end;
            let binary = h.opcode == Opcode::Binary;
            match h.opcode {
                Opcode::Text | Opcode::Binary if self.fragment.is_some() => {
                    return Err(protocol("a new message inside a fragmented one"));
                }
                Opcode::Text | Opcode::Binary if h.fin => {
                    self.last = Last::InBuffer(start..end);
                    return Ok(Some(Incoming::Data { binary }));
                }
                Opcode::Text | Opcode::Binary => {
                    self.fragment = Some((binary, self.rbuf[start..end].to_vec()));
                    self.fragment_started = Some(std::time::Instant::now());
                }
                Opcode::Continuation => {
                    let Some((binary, bytes)) = self.fragment.as_mut() else {
                        return Err(protocol(
                            "a continuation frame without a message to continue",
                        ));
                    };
                    bytes.extend_from_slice(&self.rbuf[start..end]);
                    if h.fin {
                        let binary = *binary;
                        let bytes = self.fragment.take().map(|(_, b)| b).unwrap_or_default();
                        self.last = Last::Assembled(bytes);
                        return Ok(Some(Incoming::Data { binary }));
                    }
                }
                Opcode::Ping | Opcode::Pong => {
                    if h.opcode == Opcode::Ping && !self.close_queued {
                        // Replaces any pong still waiting: only the latest ping is answered.
                        let pong = self.pong.get_or_insert_with(Vec::new);
                        pong.clear();
                        pong.extend_from_slice(&self.rbuf[start..end]);
                    }
                    // Heartbeats keep the socket alive, not a message that never ends.
                    let open_since = self.fragment.as_ref().and(self.fragment_started);
                    if open_since.is_some_and(|at| at.elapsed() > self.limits.message_time) {
                        return Err(ReadError::Unfinished);
                    }
                    return Ok(Some(Incoming::Heartbeat));
                }
                Opcode::Close => {
                    let code = frame::close_code(&self.rbuf[start..end]).map_err(protocol)?;
                    self.peer_close = Some(code);
                    return Ok(Some(Incoming::Close(code)));
                }
            }
        }
    }

    /// Reads more bytes into the buffer.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ReadError>> {
        // Consumed bytes are dropped first, so the buffer holds only what is still to parse,
        // and an idle socket (everything consumed) holds no buffer at all.
        if self.rpos == self.rbuf.len() {
            self.rbuf = Vec::new();
        } else if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
        }
        self.rpos = 0;
        loop {
            // Readiness first, so that a socket waiting for data holds no buffer.
            std::task::ready!(self.stream.poll_read_ready(cx)).map_err(ended)?;
            // One read takes `read_chunk`, or the rest of a larger frame being read: never what
            // happens to be free in the buffer, so a flood of small frames is read in small
            // steps (each step's replies leave before the next) and the buffer does not grow.
            let limit = self.limits.read_chunk.max(self.missing);
            if self.rbuf.capacity() - self.rbuf.len() < limit {
                self.rbuf.reserve_exact(limit);
            }
            let mut room = bytes::BufMut::limit(&mut self.rbuf, limit);
            // Through `AsyncRead`, which notes a short read as the socket drained, so the next
            // read waits for readiness instead of making a `recv` that would block.
            match poll_read_buf(Pin::new(&mut self.stream), cx, &mut room) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(ReadError::Ended(None))),
                Poll::Ready(Ok(_)) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(ReadError::Ended(Some(e)))),
                Poll::Pending => {
                    // Readiness was stale: wait for the next, holding no buffer if none is needed.
                    if self.rbuf.is_empty() {
                        self.rbuf = Vec::new();
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Whether more frames may be framed ahead of the write.
    pub(crate) fn wants_frames(&self) -> bool {
        !self.close_queued && self.wbuf.len() - self.wpos < self.limits.write_chunk.max(1)
    }

    /// Frames a text message for writing (after the waiting pong, whose ping came first).
    pub(crate) fn queue_text(&mut self, text: &[u8]) {
        if !self.close_queued {
            self.queue_pong();
            frame::write_frame(&mut self.wbuf, Opcode::Text, text);
        }
    }

    /// Frames the waiting pong, if there is one and the write buffer has room.
    fn queue_pong(&mut self) {
        if self.pong.is_some() && !self.write_backlogged() {
            if let Some(pong) = self.pong.take().filter(|_| !self.close_queued) {
                frame::write_frame(&mut self.wbuf, Opcode::Pong, &pong);
            }
        }
    }

    /// Frames a close frame; nothing is sent after it.
    pub(crate) fn queue_close(&mut self, code: Option<u16>, reason: &str) {
        if !self.close_queued {
            frame::write_close(&mut self.wbuf, code, reason);
            self.close_queued = true;
        }
    }

    /// The code of the peer's close frame: `None` until it arrives or when it had none.
    pub(crate) fn peer_close(&self) -> Option<u16> {
        self.peer_close.flatten()
    }

    /// Whether a close frame has been queued.
    pub(crate) fn close_queued(&self) -> bool {
        self.close_queued
    }

    /// Writes what is framed (and the waiting pong, once the write buffer has room); ready once
    /// all of it is written.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            self.queue_pong();
            if self.wpos == self.wbuf.len() {
                break;
            }
            let n = std::task::ready!(self.stream.poll_write_ready(cx))
                .and_then(|()| self.stream.try_write(&self.wbuf[self.wpos..]));
            match n {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        // Written: the buffer is freed, so an idle socket holds none.
        if self.wpos > 0 {
            self.wbuf = Vec::new();
            self.wpos = 0;
        }
        Poll::Ready(Ok(()))
    }
}

fn protocol(err: impl std::fmt::Display) -> ReadError {
    ReadError::Protocol(err.to_string())
}

fn ended(err: io::Error) -> ReadError {
    ReadError::Ended(Some(err))
}

/// The code to echo in reply to the peer's close (RFC 6455 section 5.5.1): its own when it may
/// be sent on the wire, none otherwise.
pub(crate) fn echo_code(code: Option<u16>) -> Option<u16> {
    code.filter(|c| frame::may_send(*c))
}
