'use strict';
// Thin adapters over the two real client generations, so that one scenario can run against
// each client configuration of sc-protocol.md section 16. The adapters use each package's own
// public API exactly as an application would:
//   sc14 (socketcluster-client 14.3.2): event emitters, socket.emit(event, data, cb),
//        socket.publish(ch, data[, cb]), socket.subscribe(ch).watch(fn), socket.destroy().
//   sc20 (socketcluster-client 20.0.2): async iterables, socket.invoke/transmit,
//        invokePublish/transmitPublish, for await (... of socket.subscribe(ch)),
//        socket.listener(name), socket.receiver(name), disconnect() + kill*().
// Everything a client observes is pushed into a Recorder (see wait.js) with normalised shapes:
//   connecting {}, connect {id, pingTimeout, isAuthenticated, ...}, connectAbort/disconnect/close
//   {code, reason}, error {error}, raw {message}, message {message} (every inbound frame),
//   subscribe/channelSubscribe/unsubscribe {channel}, subscribeFail {channel, error},
//   kickOut {channel, message}, pub:<channel> <data>, recv:<event> <data>,
//   authenticate {authToken} (the decoded token), deauthenticate {}.

const sc14 = require('sc14');
const sc20 = require('sc20');
const {Recorder, DEFAULT_TIMEOUT_MS, short} = require('./wait');

// Short timeouts so that failures and reconnects show up within seconds.
const ACK_TIMEOUT_MS = 2000;
const CONNECT_TIMEOUT_MS = 5000;
const AUTO_RECONNECT_OPTIONS = {initialDelay: 300, randomness: 100, multiplier: 1, maxDelay: 1000};

// The client configurations of sc-protocol.md section 16, plus both generations on `auto`.
const CONFIGS = [
  {name: 'sc14.3.2 -> --protocol 1', client: 'v14', protocol: '1'},
  {name: 'sc20.0.2 -> --protocol 2', client: 'v20', protocol: '2'},
  {name: 'sc20.0.2 protocolVersion:1 -> --protocol 1', client: 'v20p1', protocol: '1'},
  {name: 'sc14.3.2 -> --protocol auto', client: 'v14', protocol: 'auto'},
  {name: 'sc20.0.2 -> --protocol auto', client: 'v20', protocol: 'auto'},
];

// Protocol generation a client configuration speaks on the wire (ping strings).
function wireVersion(kind) {
  return kind === 'v20' ? 2 : 1;
}

function baseOptions(port, opts) {
  return {
    hostname: '127.0.0.1',
    port,
    autoConnect: false,
    ackTimeout: ACK_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    autoReconnectOptions: {...AUTO_RECONNECT_OPTIONS},
    ...opts,
  };
}

let clientCounter = 0;

class V14Client {
  constructor(port, opts = {}) {
    this.kind = 'v14';
    this.rec = new Recorder(`sc14 client #${++clientCounter}`);
    // multiplex:false, or create() would hand back the same object for the same URL.
    this.socket = sc14.create(baseOptions(port, {multiplex: false, ...opts}));
    this._watched = new Set();
    this._received = new Set();
    const s = this.socket;
    const rec = this.rec;
    s.on('connecting', () => rec.push('connecting', {}));
    s.on('connect', (status) => rec.push('connect', {...status}));
    s.on('connectAbort', (code, reason) => rec.push('connectAbort', {code, reason}));
    s.on('disconnect', (code, reason) => rec.push('disconnect', {code, reason}));
    s.on('close', (code, reason) => rec.push('close', {code, reason}));
    // Without an 'error' listener the v14 client throws from a timer and kills the process.
    s.on('error', (error) => rec.push('error', {error}));
    s.on('raw', (message) => rec.push('raw', {message}));
    s.on('message', (message) => rec.push('message', {message: String(message)}));
    s.on('subscribe', (channel) => rec.push('subscribe', {channel}));
    s.on('subscribeFail', (error, channel) => rec.push('subscribeFail', {channel, error}));
    s.on('unsubscribe', (channel) => rec.push('unsubscribe', {channel}));
    s.on('kickOut', (message, channel) => rec.push('kickOut', {channel, message}));
    s.on('authenticate', () => rec.push('authenticate', {authToken: s.authToken}));
    s.on('deauthenticate', () => rec.push('deauthenticate', {}));
  }

  get id() {
    return this.socket.id;
  }

  get state() {
    return this.socket.state;
  }

  // 'authenticated' | 'unauthenticated'
  get authState() {
    return this.socket.authState;
  }

  // The decoded token payload (claims), or null.
  get authToken() {
    return this.socket.authToken;
  }

  connect() {
    this.socket.connect();
  }

  invoke(event, data) {
    return new Promise((resolve, reject) => {
      this.socket.emit(event, data, (err, result) => (err ? reject(err) : resolve(result)));
    });
  }

  transmit(event, data) {
    this.socket.emit(event, data);
  }

  invokePublish(channel, data) {
    return new Promise((resolve, reject) => {
      this.socket.publish(channel, data, (err, result) => (err ? reject(err) : resolve(result)));
    });
  }

  transmitPublish(channel, data) {
    this.socket.publish(channel, data);
  }

  // `options` as the package takes them, e.g. {data} or {waitForAuth: true}.
  subscribe(channel, options) {
    const ch = this.socket.subscribe(channel, options);
    if (!this._watched.has(channel)) {
      this._watched.add(channel);
      ch.on('subscribe', () => this.rec.push('channelSubscribe', {channel}));
      ch.watch((data) => this.rec.push(`pub:${channel}`, data));
    }
    return ch;
  }

  unsubscribe(channel) {
    this.socket.unsubscribe(channel);
  }

  isSubscribed(channel) {
    return this.socket.isSubscribed(channel);
  }

  // Records server transmits of `event` as recv:<event>.
  receive(event) {
    if (this._received.has(event)) return;
    this._received.add(event);
    this.socket.on(event, (data) => this.rec.push(`recv:${event}`, data));
  }

  disconnect(code, reason) {
    this.socket.disconnect(code, reason);
  }

  destroy() {
    this.socket.destroy();
  }
}

class V20Client {
  constructor(port, opts = {}) {
    this.kind = opts.protocolVersion === 1 ? 'v20p1' : 'v20';
    this.rec = new Recorder(`sc20${this.kind === 'v20p1' ? ' (protocolVersion 1)' : ''} client #${++clientCounter}`);
    this.socket = sc20.create(baseOptions(port, opts));
    this._watched = new Set();
    this._received = new Set();
    const rec = this.rec;
    const listen = (name, map) => {
      (async () => {
        for await (const ev of this.socket.listener(name)) rec.push(name, map(ev));
      })();
    };
    listen('connecting', () => ({}));
    listen('connect', (status) => {
      const out = {...status};
      delete out.processPendingSubscriptions;
      return out;
    });
    listen('connectAbort', ({code, reason}) => ({code, reason}));
    listen('disconnect', ({code, reason}) => ({code, reason}));
    listen('close', ({code, reason}) => ({code, reason}));
    listen('error', ({error}) => ({error}));
    listen('raw', ({message}) => ({message}));
    listen('message', ({message}) => ({message: String(message)}));
    listen('subscribe', ({channel}) => ({channel}));
    listen('subscribeFail', ({channel, error}) => ({channel, error}));
    listen('unsubscribe', ({channel}) => ({channel}));
    listen('kickOut', ({channel, message}) => ({channel, message}));
    listen('authenticate', ({authToken}) => ({authToken}));
    listen('deauthenticate', () => ({}));
  }

  get id() {
    return this.socket.id;
  }

  get state() {
    return this.socket.state;
  }

  // 'authenticated' | 'unauthenticated'
  get authState() {
    return this.socket.authState;
  }

  // The decoded token payload (claims), or null.
  get authToken() {
    return this.socket.authToken;
  }

  connect() {
    this.socket.connect();
  }

  invoke(event, data) {
    return this.socket.invoke(event, data);
  }

  transmit(event, data) {
    this.socket.transmit(event, data);
  }

  invokePublish(channel, data) {
    return this.socket.invokePublish(channel, data);
  }

  transmitPublish(channel, data) {
    this.socket.transmitPublish(channel, data);
  }

  subscribe(channel, options) {
    const ch = this.socket.subscribe(channel, options);
    if (!this._watched.has(channel)) {
      this._watched.add(channel);
      // Consumers are created synchronously here, before any frame can arrive.
      (async () => {
        for await (const _ of ch.listener('subscribe')) this.rec.push('channelSubscribe', {channel});
      })();
      (async () => {
        for await (const data of ch) this.rec.push(`pub:${channel}`, data);
      })();
    }
    return ch;
  }

  unsubscribe(channel) {
    this.socket.unsubscribe(channel);
  }

  isSubscribed(channel) {
    return this.socket.isSubscribed(channel);
  }

  receive(event) {
    if (this._received.has(event)) return;
    this._received.add(event);
    (async () => {
      for await (const data of this.socket.receiver(event)) this.rec.push(`recv:${event}`, data);
    })();
  }

  disconnect(code, reason) {
    this.socket.disconnect(code, reason);
  }

  destroy() {
    this.socket.disconnect();
    this.socket.killAllListeners();
    this.socket.killAllReceivers();
    this.socket.killAllProcedures();
    this.socket.killAllChannels();
  }
}

// Creates a client of `kind` ('v14' | 'v20' | 'v20p1'); it is destroyed when test `t` ends.
function createClient(t, kind, port, opts = {}) {
  let client;
  if (kind === 'v14') client = new V14Client(port, opts);
  else if (kind === 'v20') client = new V20Client(port, opts);
  else if (kind === 'v20p1') client = new V20Client(port, {...opts, protocolVersion: 1});
  else throw new Error(`unknown client kind ${kind}`);
  if (t) t.after(() => client.destroy());
  return client;
}

// Creates a client, connects it, and waits for its first 'connect' (or fails on connectAbort).
async function connectClient(t, kind, port, opts = {}) {
  const client = createClient(t, kind, port, opts);
  client.connect();
  await waitConnected(client);
  return client;
}

// Waits for the next 'connect' at index >= since; fails at once on a connectAbort.
async function waitConnected(client, {since = 0, timeout = DEFAULT_TIMEOUT_MS} = {}) {
  const ev = await client.rec.waitFor(['connect', 'connectAbort'], {since, timeout, what: "'connect'"});
  if (ev.name !== 'connect') {
    throw new Error(`${client.rec.label}: connectAbort ${JSON.stringify(ev.data)} while waiting for connect\n${client.rec.summary()}`);
  }
  return ev.data;
}

// Subscribes and waits for the socket's 'subscribe' event for `channel` (fails on subscribeFail).
async function subscribed(client, channel, options) {
  const since = client.rec.mark();
  client.subscribe(channel, options);
  const ev = await client.rec.waitFor(['subscribe', 'subscribeFail'], {
    since, filter: (d) => d.channel === channel, what: `'subscribe' for ${channel}`,
  });
  if (ev.name !== 'subscribe') {
    throw new Error(`${client.rec.label}: subscribeFail for ${channel}: ${short(ev.data.error)}\n${client.rec.summary()}`);
  }
}

// Subscribes and waits for 'subscribeFail' for `channel`; returns the error (fails on subscribe).
async function subscribeRefused(client, channel, options) {
  const since = client.rec.mark();
  client.subscribe(channel, options);
  const ev = await client.rec.waitFor(['subscribe', 'subscribeFail'], {
    since, filter: (d) => d.channel === channel, what: `'subscribeFail' for ${channel}`,
  });
  if (ev.name !== 'subscribeFail') {
    throw new Error(`${client.rec.label}: ${channel} was subscribed, but a subscribeFail was expected\n${client.rec.summary()}`);
  }
  return ev.data.error;
}

// Every packet the client received (at index >= since), batches flattened, from its 'message'
// events: what came over the wire whether or not the client surfaced it.
function inboundPackets(client, since = 0) {
  const out = [];
  for (const e of client.rec.all('message', {since})) {
    const text = e.data.message;
    if (!/^\s*[{[]/.test(text)) continue;
    let packet;
    try {
      packet = JSON.parse(text);
    } catch (err) {
      continue;
    }
    for (const p of Array.isArray(packet) ? packet : [packet]) {
      if (p && typeof p === 'object') out.push(p);
    }
  }
  return out;
}

// The data of every '#publish' for `channel` that reached the client (at index >= since). The
// clients silently drop publishes for channels they left, so "the server stopped sending" can
// only be seen in the raw frames.
function publishFrames(client, channel, since = 0) {
  return inboundPackets(client, since)
    .filter((p) => p.event === '#publish' && p.data && p.data.channel === channel)
    .map((p) => p.data.data);
}

module.exports = {
  CONFIGS, ACK_TIMEOUT_MS, AUTO_RECONNECT_OPTIONS, createClient, connectClient, waitConnected, wireVersion,
  inboundPackets, publishFrames, subscribed, subscribeRefused,
};
