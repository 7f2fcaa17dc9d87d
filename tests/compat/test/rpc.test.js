'use strict';
// RPC through the example binary's native handlers (sc-protocol.md section 16, items 4 and 5):
//   echo            -> acks with its data unchanged
//   fail            -> error {name:'CustomError', message:'Custom failure ' + data, extra: 42}
//   record          -> (no ack) stores data for this socket
//   recorded        -> acks with this socket's recorded data, in order
//   serverTransmit  -> {event, data}: sends `event` (no cid) to this socket, then acks

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {serverPool} = require('../lib/server');
const {CONFIGS, connectClient, ACK_TIMEOUT_MS} = require('../lib/clients');
const {rejection} = require('../lib/wait');

const pool = serverPool();
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
  describe(cfg.name, () => {
    it('echo: acks with the data unchanged (object, string, number, null, unicode, ~1 MB)', {timeout: 30000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      for (const [what, payload] of PAYLOADS) {
        const got = await c.invoke('echo', payload);
        assert.deepStrictEqual(got, payload, `echo of ${what} came back changed`);
      }
      // Concurrent invokes are matched to their own responses (cid/rid).
      const many = await Promise.all(Array.from({length: 50}, (_, i) => c.invoke('echo', {i})));
      assert.deepStrictEqual(many, Array.from({length: 50}, (_, i) => ({i})));
    });

    it('echo: a Buffer is sent as {base64:true,data} and comes back as that object', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const got = await c.invoke('echo', {b: Buffer.from('hi')});
      assert.deepStrictEqual(got, {b: {base64: true, data: 'aGk='}});
      c.rec.assertNone('raw', {filter: (d) => String(d.message).includes('ArrayBuffer'), what: 'binary frames from the server'});
    });

    it('fail: the handler error arrives with its name, message and custom properties', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const err = await rejection(c.invoke('fail', 'boom'), "invoke('fail')");
      assert.ok(err instanceof Error, `should be an Error: ${err}`);
      assert.equal(err.name, 'CustomError');
      assert.equal(err.message, 'Custom failure boom');
      assert.equal(err.extra, 42);
      // The connection is still usable afterwards.
      assert.equal(await c.invoke('echo', 'ok'), 'ok');
    });

    it('an event with no handler gets no reply: TimeoutError after ackTimeout', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const start = Date.now();
      const err = await rejection(c.invoke('noSuchHandler', 1), "invoke('noSuchHandler')");
      const elapsed = Date.now() - start;
      assert.equal(err.name, 'TimeoutError', `error: ${err.name}: ${err.message}`);
      assert.ok(elapsed >= ACK_TIMEOUT_MS - 100, `timed out after ${elapsed} ms, expected ~${ACK_TIMEOUT_MS}`);
      c.rec.assertNone(['disconnect', 'close']);
    });

    it('record/recorded: transmits without ack reach the handler, per socket and in order', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const items = [1, 'two', {three: 3}, [4], null, 'six'];
      for (const item of items) a.transmit('record', item);
      b.transmit('record', 'only b');
      assert.deepStrictEqual(await a.invoke('recorded'), items, 'recorded data of client A');
      assert.deepStrictEqual(await b.invoke('recorded'), ['only b'], 'recorded data of client B');
      const fresh = await connectClient(t, cfg.client, srv.port);
      assert.deepStrictEqual(await fresh.invoke('recorded'), [], 'a new socket starts with nothing recorded');
    });

    it('serverTransmit: the server sends the event to this socket (no cid) and acks', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const other = await connectClient(t, cfg.client, srv.port);
      c.receive('notice');
      other.receive('notice');
      const since = c.rec.mark();
      await c.invoke('serverTransmit', {event: 'notice', data: {hello: 'world'}});
      const ev = await c.rec.waitFor('recv:notice', {since, what: "the server-transmitted 'notice' event"});
      assert.deepStrictEqual(ev.data, {hello: 'world'});
      const frame = c.rec.all('message', {since, filter: (d) => d.message.includes('"notice"')})[0];
      assert.ok(frame, 'the notice frame should be visible in the raw messages');
      const packet = JSON.parse(frame.data.message);
      const notice = (Array.isArray(packet) ? packet : [packet]).find((p) => p.event === 'notice');
      assert.equal(notice.cid, undefined, `a transmit must not carry a cid: ${frame.data.message}`);
      // Only the calling socket gets it.
      assert.equal(await other.invoke('echo', 'sync'), 'sync');
      other.rec.assertNone('recv:notice', {what: 'the notice on another socket'});
    });
  });
}
