'use strict';
// sc-protocol.md section 16, items 4 (RPC) and 5 (binary), against the real `scgate` binary
// with the example WebAssembly plugins (lib/plugins.js):
//   ping        -> publishes its per-worker-instance count on `pong`, acks with its data unchanged
//   login       -> without a string `username`: error {name:'LoginError', message:'username required'}
//   host-calls  -> (fixture) `transmit` {to, event, data}: sends `event` to socket `to`, acks without data
// Server -> client invoke has no plugin API yet, so it is not tested here (README).

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {pluginServerPool, pluginBuilt, skipUnlessBuilt} = require('../lib/plugins');
const {CONFIGS, connectClient, subscribed, inboundPackets, ACK_TIMEOUT_MS} = require('../lib/clients');
const {rawClient} = require('../lib/raw');
const {rejection} = require('../lib/wait');

const HOST_CALLS_SKIP = skipUnlessBuilt('host-calls');
const pool = pluginServerPool({plugins: ['ping', 'demo-login', ...(pluginBuilt('host-calls') ? ['host-calls'] : [])]});
after(() => pool.stopAll());

const PAYLOADS = [
  ['an object', {a: 1, b: [true, false, null], c: {d: 'e', f: 1.5, g: -7}, h: 9007199254740991}],
  ['a string', 'hello'],
  ['an empty string', ''],
  ['a number', 42],
  ['zero', 0],
  ['false', false],
  ['null', null],
  ['an array', [1, 'two', {three: 3}, [4]]],
  ['unicode text', {'clé ✓': 'héllo wörld ✓ 日本語 🚀 \u0000 \u2028 "quoted" \\ back'}],
  ['a ~1 MB payload', {blob: 'x'.repeat(1024 * 1024 - 64), n: 1}],
];

for (const cfg of CONFIGS) {
  describe(`plugins: ${cfg.name}`, () => {
    it('ping: acks with the data unchanged (object, string, number, null, unicode, ~1 MB)', {timeout: 30000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      for (const [what, payload] of PAYLOADS) {
        const got = await c.invoke('ping', payload);
        assert.deepStrictEqual(got, payload, `ping of ${what} came back changed`);
      }
      // Concurrent invokes are matched to their own responses (cid/rid).
      const many = await Promise.all(Array.from({length: 50}, (_, i) => c.invoke('ping', {i})));
      assert.deepStrictEqual(many, Array.from({length: 50}, (_, i) => ({i})));
    });

    it('ping: a Buffer is sent as {base64:true,data} and comes back as that object', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const got = await c.invoke('ping', {b: Buffer.from('hi'), n: 1});
      assert.deepStrictEqual(got, {b: {base64: true, data: 'aGk='}, n: 1});
      c.rec.assertNone('raw', {filter: (d) => typeof d.message !== 'string', what: 'binary frames from the server'});
    });

    it("login without username: the plugin's error arrives with its exact name and message", {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      for (const data of [{role: 'admin'}, {username: 5}, undefined]) {
        const err = await rejection(c.invoke('login', data), `invoke('login', ${JSON.stringify(data)})`);
        assert.ok(err instanceof Error, `should be an Error: ${err}`);
        assert.equal(err.name, 'LoginError', `error for ${JSON.stringify(data)}: ${err.name}: ${err.message}`);
        assert.equal(err.message, 'username required');
      }
      assert.equal(c.authState, 'unauthenticated', 'a failed login must not authenticate');
      c.rec.assertNone('authenticate');
      // The connection is still usable afterwards.
      assert.equal(await c.invoke('ping', 'ok'), 'ok');
    });

    it('an event with no handler gets no reply: TimeoutError after ackTimeout', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const start = Date.now();
      const err = await rejection(c.invoke('noSuchPluginEvent', 1), "invoke('noSuchPluginEvent')");
      const elapsed = Date.now() - start;
      assert.equal(err.name, 'TimeoutError', `error: ${err.name}: ${err.message}`);
      assert.ok(elapsed >= ACK_TIMEOUT_MS - 100, `timed out after ${elapsed} ms, expected ~${ACK_TIMEOUT_MS}`);
      c.rec.assertNone(['disconnect', 'close']);
      assert.equal(await c.invoke('ping', 'after'), 'after');
    });

    it('a ping transmit (no callback) reaches the handler: its counts are published on pong', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const pinger = await connectClient(t, cfg.client, srv.port);
      const watcher = await connectClient(t, cfg.client, srv.port);
      await subscribed(watcher, 'pong');
      const since = watcher.rec.mark();
      for (let i = 0; i < 3; i++) pinger.transmit('ping', {i});
      const got = (await watcher.rec.waitForCount('pub:pong', 3, {since, what: 'three pong counts after three ping transmits'}))
        .map((e) => e.data);
      // One socket's pings run on one worker's instance, one after the other: consecutive counts.
      assert.ok(got.every(Number.isInteger), `pong data should be integer counts: ${JSON.stringify(got)}`);
      assert.deepStrictEqual(got, [got[0], got[0] + 1, got[0] + 2], `counts should be consecutive: ${JSON.stringify(got)}`);
      // A transmit has no cid, so the pinger got no response to it: after one more invoke, the
      // only response besides the handshake's is that invoke's.
      assert.equal(await pinger.invoke('ping', 'sync'), 'sync');
      // (sc20 records 'message' events asynchronously: wait until the response is recorded too.)
      await pinger.rec.waitFor('message', {filter: (d) => d.message.includes('"sync"'), what: "the 'sync' response frame"});
      const responses = inboundPackets(pinger)
        .filter((p) => p.rid !== undefined && !(p.data && typeof p.data === 'object' && 'pingTimeout' in p.data));
      assert.deepStrictEqual(responses.map((p) => p.data), ['sync'], 'the server answered a transmit');
    });

    it('host-calls transmit: the server sends the event (no cid) to this socket or another one', {timeout: 15000, skip: HOST_CALLS_SKIP}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const other = await connectClient(t, cfg.client, srv.port);
      c.receive('notice');
      other.receive('notice');
      const since = c.rec.mark();
      const ack = await c.invoke('transmit', {to: c.id, event: 'notice', data: {hello: 'world', n: [1, 2]}});
      assert.ok(ack === undefined || ack === null, `transmit acks without data, got ${JSON.stringify(ack)}`);
      const ev = await c.rec.waitFor('recv:notice', {since, what: "the plugin-transmitted 'notice' event"});
      assert.deepStrictEqual(ev.data, {hello: 'world', n: [1, 2]});
      const frames = inboundPackets(c, since).filter((p) => p.event === 'notice');
      assert.equal(frames.length, 1, `one notice frame expected: ${JSON.stringify(frames)}`);
      assert.equal(frames[0].cid, undefined, `a transmit must not carry a cid: ${JSON.stringify(frames[0])}`);
      // To another socket (possibly on another worker): only that one gets it.
      const otherSince = other.rec.mark();
      await c.invoke('transmit', {to: other.id, event: 'notice', data: 'for other'});
      const got = await other.rec.waitFor('recv:notice', {since: otherSince, what: "'notice' at the other socket"});
      assert.equal(got.data, 'for other');
      assert.equal(await c.invoke('ping', 'sync'), 'sync');
      assert.equal(c.rec.count('recv:notice', {since}), 1, 'the sender got the notice meant for the other socket');
    });
  });
}

for (const protocol of ['1', '2', 'auto']) {
  describe(`plugins: raw ws, --protocol ${protocol}`, () => {
    it('the server never sends binary frames (responses, errors, publishes, #setAuthToken)', {timeout: 15000}, async (t) => {
      const srv = await pool.get(protocol);
      const raw = rawClient(t, srv.port, {pong: 'both'});
      await raw.connect();
      const sub = await raw.invoke('#subscribe', {channel: 'pong'});
      assert.equal(sub.error, undefined, `subscribe: ${JSON.stringify(sub)}`);
      const res = await raw.invoke('ping', {b: {base64: true, data: 'aGk='}, s: 'é'});
      assert.deepStrictEqual(res.data, {b: {base64: true, data: 'aGk='}, s: 'é'});
      await raw.rec.waitFor('frame', {filter: (d) => d.packet && d.packet.event === '#publish', what: 'the pong publish'});
      const fail = await raw.invoke('login', {});
      assert.equal(fail.error && fail.error.name, 'LoginError', `login error: ${JSON.stringify(fail)}`);
      const ok = await raw.invoke('login', {username: 'rawuser'});
      assert.equal(ok.error, undefined, `login: ${JSON.stringify(ok)}`);
      await raw.rec.waitFor('frame', {filter: (d) => d.packet && d.packet.event === '#setAuthToken', what: '#setAuthToken'});
      raw.rec.assertNone('binary', {what: 'a binary frame'});
      raw.rec.assertNone('close');
    });
  });
}
