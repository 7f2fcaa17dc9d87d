'use strict';
// A raw WebSocket probe (the `ws` package) that speaks the SocketCluster wire protocol by hand,
// for the edge cases that the real clients never produce. Every inbound frame is recorded as
// 'frame' {text, packet} (packet = parsed JSON or undefined), and the close as 'close' {code, reason}.

const WebSocket = require('ws');
const {Recorder, DEFAULT_TIMEOUT_MS, short} = require('./wait');

let rawCounter = 0;

class RawClient {
  // pong: 'none' (never answer pings), 'v1' ('#1' -> '#2'), 'v2' ('' -> ''), 'both'.
  constructor(port, {path = '/socketcluster/', pong = 'none', label} = {}) {
    this.url = `ws://127.0.0.1:${port}${path}`;
    this.pong = pong;
    this.rec = new Recorder(label || `raw ws #${++rawCounter}`);
    this.cid = 1;
    this.ws = null;
    this.closed = null;
  }

  // Opens the connection; resolves on 'open', rejects on an upgrade failure.
  open({timeout = DEFAULT_TIMEOUT_MS} = {}) {
    this.ws = new WebSocket(this.url, {perMessageDeflate: false});
    const ws = this.ws;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        const ev = {code, reason: reason.toString()};
        this.rec.push('close', ev);
        resolve(ev);
      });
    });
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      if (isBinary) this.rec.push('binary', {text});
      let packet;
      if (/^\s*[{[]/.test(text)) {
        try {
          packet = JSON.parse(text);
        } catch (e) {
          packet = undefined;
        }
      }
      this.rec.push('frame', {text, packet});
      if ((text === '#1' && (this.pong === 'v1' || this.pong === 'both')) ||
          (text === '' && (this.pong === 'v2' || this.pong === 'both'))) {
        this.sendText(text === '#1' ? '#2' : '');
      }
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`${this.rec.label}: no WebSocket open within ${timeout} ms (${this.url})`));
      }, timeout);
      ws.once('open', () => {
        clearTimeout(timer);
        this.rec.push('open', {});
        resolve();
      });
      ws.once('unexpected-response', (req, res) => {
        clearTimeout(timer);
        this.rec.push('httpStatus', {status: res.statusCode});
        ws.terminate();
        reject(Object.assign(new Error(`${this.rec.label}: upgrade refused with HTTP ${res.statusCode}`), {status: res.statusCode}));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get isOpen() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  sendText(text) {
    if (this.isOpen) this.ws.send(text);
  }

  send(packet) {
    this.sendText(JSON.stringify(packet));
  }

  nextCid() {
    return this.cid++;
  }

  // Waits for the response {rid: cid, ...} and returns the packet.
  async response(cid, {timeout = DEFAULT_TIMEOUT_MS, since = 0} = {}) {
    const ev = await this.rec.waitFor('frame', {
      since, timeout, what: `response rid ${cid}`,
      filter: (d) => isResponseTo(d.packet, cid),
    });
    const p = ev.data.packet;
    return Array.isArray(p) ? p.find((x) => isResponseTo(x, cid)) : p;
  }

  // Sends `event` with a cid and returns the response packet.
  async invoke(event, data, opts) {
    const cid = this.nextCid();
    const since = this.rec.mark();
    this.send({event, data, cid});
    return this.response(cid, {...opts, since});
  }

  transmit(event, data) {
    this.send(data === undefined ? {event} : {event, data});
  }

  // Sends #handshake and returns the handshake status (response.data); throws on an error reply.
  async handshake(opts) {
    const res = await this.invoke('#handshake', {authToken: null}, opts);
    if (res.error || !res.data) {
      throw new Error(`${this.rec.label}: handshake failed: ${short(res)}`);
    }
    return res.data;
  }

  // Opens and shakes hands.
  async connect(opts) {
    await this.open(opts);
    return this.handshake(opts);
  }

  async waitClose({timeout = DEFAULT_TIMEOUT_MS, what} = {}) {
    const ev = await this.rec.waitFor('close', {timeout, what: what || 'the server to close the connection'});
    return ev.data;
  }

  // Every '#publish' the server sent for `channel` (at index >= since), as its data.
  publishes(channel, since = 0) {
    return packetsOf(this.rec, since).filter((p) => isPublishOn(p, channel)).map((p) => p.data.data);
  }

  close() {
    if (!this.ws) return;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }
}

function isResponseTo(packet, cid) {
  if (Array.isArray(packet)) return packet.some((p) => isResponseTo(p, cid));
  return !!packet && typeof packet === 'object' && packet.rid === cid;
}

function isPublishOn(packet, channel) {
  return !!packet && packet.event === '#publish' && packet.data && packet.data.channel === channel;
}

// Flattens batched frames: every packet the server sent, in order.
function packetsOf(rec, since = 0) {
  const out = [];
  for (const e of rec.all('frame', {since})) {
    const p = e.data.packet;
    if (Array.isArray(p)) out.push(...p);
    else if (p !== undefined) out.push(p);
  }
  return out;
}

// Creates a raw client that is closed when test `t` ends.
function rawClient(t, port, opts) {
  const c = new RawClient(port, opts);
  if (t) t.after(() => c.close());
  return c;
}

module.exports = {RawClient, rawClient, packetsOf, isResponseTo, isPublishOn};
