'use strict';
// sc-protocol.md section 16, item 10 (protocol guards), with raw `ws` probes, on each
// --protocol setting. These servers run with --handshake-timeout-ms 1000.

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {serverPool, PING_TIMEOUT_MS} = require('../lib/server');
const {RawClient, rawClient, packetsOf, isPublishOn} = require('../lib/raw');
const {withTimeout} = require('../lib/wait');

const HANDSHAKE_TIMEOUT_MS = 1000;
const CONCURRENT_CLIENTS = 1000;

const pool = serverPool();
after(() => pool.stopAll());

function server(protocol) {
  return pool.get(protocol, ['--handshake-timeout-ms', String(HANDSHAKE_TIMEOUT_MS)]);
}

// How a raw client answers pings on each listener, so that slow tests are not cut by 4001.
const PONG = {1: 'v1', 2: 'v2', auto: 'v1'};

let channelCounter = 0;
function freshChannel(tag) {
  return `compat-${tag}-${process.pid}-${++channelCounter}`;
}

for (const protocol of ['1', '2', 'auto']) {
  describe(`--protocol ${protocol}`, () => {
    it(`no #handshake: closed with 4005 after the handshake timeout (${HANDSHAKE_TIMEOUT_MS} ms)`, {timeout: 15000}, async (t) => {
      const srv = await server(protocol);
      const raw = rawClient(t, srv.port, {pong: 'none'});
      await raw.open();
      const start = Date.now();
      const close = await raw.waitClose({timeout: PING_TIMEOUT_MS + 3000, what: 'close 4005'});
      const elapsed = Date.now() - start;
      assert.equal(close.code, 4005, `close: ${JSON.stringify(close)}\n${raw.rec.summary()}`);
      assert.ok(elapsed >= HANDSHAKE_TIMEOUT_MS - 200, `closed after ${elapsed} ms, before the handshake timeout`);
      assert.ok(elapsed < PING_TIMEOUT_MS, `closed after ${elapsed} ms: that is the ping timeout, not the handshake timeout`);
    });

    for (const [what, text] of [
      ['an event', JSON.stringify({event: 'echo', data: 1, cid: 1})],
      ['invalid JSON', '{not json'],
    ]) {
      it(`${what} before #handshake: closed with 4009`, {timeout: 15000}, async (t) => {
        const srv = await server(protocol);
        const raw = rawClient(t, srv.port);
        await raw.open();
        raw.sendText(text);
        const close = await raw.waitClose({timeout: PING_TIMEOUT_MS, what: 'close 4009'});
        assert.equal(close.code, 4009, `close: ${JSON.stringify(close)}\n${raw.rec.summary()}`);
        const replies = packetsOf(raw.rec).filter((p) => p && p.rid === 1);
        assert.deepStrictEqual(replies, [], 'the early event must not be answered');
      });
    }

    it('a batch [#subscribe, echo, #publish] is processed in order; [record, record, recorded] too', {timeout: 15000}, async (t) => {
      const srv = await server(protocol);
      const raw = rawClient(t, srv.port, {pong: PONG[protocol]});
      await raw.connect();
      const ch = freshChannel('batch');
      const since = raw.rec.mark();
      raw.send([
        {event: '#subscribe', data: {channel: ch}, cid: 101},
        {event: 'echo', data: {batched: true}, cid: 102},
        {event: '#publish', data: {channel: ch, data: 'in batch'}, cid: 103},
      ]);
      const [sub, echo, pub] = await Promise.all([101, 102, 103].map((cid) => raw.response(cid, {since})));
      assert.equal(sub.error, undefined, `#subscribe: ${JSON.stringify(sub)}`);
      assert.deepStrictEqual(echo.data, {batched: true}, `echo: ${JSON.stringify(echo)}`);
      assert.equal(pub.error, undefined, `#publish: ${JSON.stringify(pub)}`);
      // The publish reaches this socket only if the subscribe before it was done first.
      await raw.rec.waitFor('frame', {
        since, what: `#publish on ${ch}`,
        filter: (d) => (Array.isArray(d.packet) ? d.packet : [d.packet]).some((p) => isPublishOn(p, ch)),
      });
      assert.deepStrictEqual(raw.publishes(ch, since), ['in batch']);

      const since2 = raw.rec.mark();
      raw.send([
        {event: 'record', data: 'first'},
        {event: 'record', data: 'second'},
        {event: 'recorded', cid: 104},
        {event: 'record', data: 'third'},
        {event: 'recorded', cid: 105},
      ]);
      const r104 = await raw.response(104, {since: since2});
      const r105 = await raw.response(105, {since: since2});
      assert.deepStrictEqual(r104.data, ['first', 'second']);
      assert.deepStrictEqual(r105.data, ['first', 'second', 'third']);
      raw.rec.assertNone('binary', {what: 'binary frames from the server'});
    });

    it('invalid JSON and raw strings after the handshake are ignored; the connection stays up', {timeout: 15000}, async (t) => {
      const srv = await server(protocol);
      const raw = rawClient(t, srv.port, {pong: PONG[protocol]});
      await raw.connect();
      raw.sendText('{not json');
      raw.sendText('[1, 2');
      raw.sendText('hello raw');
      raw.send({foo: 1});
      const res = await raw.invoke('echo', 'after garbage');
      assert.equal(res.data, 'after garbage', `echo: ${JSON.stringify(res)}`);
      raw.rec.assertNone('close');
      srv.assertAlive();
    });

    it(`${CONCURRENT_CLIENTS} concurrent clients each invoking echo right after connecting all get answers`, {timeout: 90000}, async (t) => {
      const srv = await server(protocol);
      const clients = Array.from({length: CONCURRENT_CLIENTS}, (_, i) => new RawClient(srv.port, {pong: PONG[protocol], label: `raw #${i}`}));
      t.after(() => clients.forEach((c) => c.close()));
      const results = await withTimeout(Promise.allSettled(clients.map(async (c, i) => {
        await c.open({timeout: 30000});
        // Like the real clients: the handshake, then an invoke as soon as it is answered.
        await c.handshake({timeout: 30000});
        const res = await c.invoke('echo', {i}, {timeout: 30000});
        assert.deepStrictEqual(res.data, {i}, `client ${i}: ${JSON.stringify(res)}`);
      })), 60000, `${CONCURRENT_CLIENTS} clients connecting and invoking echo`);
      const failed = results.map((r, i) => [r, i]).filter(([r]) => r.status === 'rejected');
      assert.equal(failed.length, 0, `${failed.length} of ${CONCURRENT_CLIENTS} clients failed, e.g.:\n` +
        failed.slice(0, 3).map(([r, i]) => `client ${i}: ${r.reason && r.reason.message}`).join('\n'));
      srv.assertAlive();
    });
  });
}
