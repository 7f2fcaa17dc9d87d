'use strict';
// sc-protocol.md section 16, item 3 (heartbeat) and item 11 (a v2 client on a v1-only listener).
// The idle periods are the point of these tests, so they all run concurrently (one ~13 s wait).

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {serverPool, PING_TIMEOUT_MS, PING_INTERVAL_MS} = require('../lib/server');
const {CONFIGS, connectClient, wireVersion} = require('../lib/clients');
const {rawClient} = require('../lib/raw');
const {quietPeriod} = require('../lib/wait');

const pool = serverPool();
after(() => pool.stopAll());

// "Idle for at least 4 x pingTimeout".
const IDLE_MS = 4 * PING_TIMEOUT_MS + 500;
// Pings expected during the idle period: one per interval, with plenty of slack for a busy machine.
const MIN_PINGS = Math.floor(IDLE_MS / PING_INTERVAL_MS / 2);
const PING_TEXT = {1: '#1', 2: ''};

function assertStayedConnected(client, since, id) {
  client.rec.assertNone(['disconnect', 'close', 'connectAbort', 'connecting'], {since, what: 'disconnect/reconnect while idle'});
  assert.equal(client.state, 'open', `${client.rec.label}: state after idling`);
  assert.equal(client.id, id, `${client.rec.label}: socket id changed, so it reconnected`);
}

describe('heartbeat', {concurrency: true}, () => {
  for (const cfg of CONFIGS) {
    it(`${cfg.name}: idle for 4 x pingTimeout without a disconnect` +
       `${cfg.protocol === 'auto' ? '' : ', and no raw events'}`, {timeout: IDLE_MS + 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const since = c.rec.mark();
      const id = c.id;
      await quietPeriod(IDLE_MS);
      assertStayedConnected(c, since, id);
      const ping = PING_TEXT[wireVersion(cfg.client)];
      const pings = c.rec.count('message', {since, filter: (d) => d.message === ping});
      assert.ok(pings >= MIN_PINGS, `${c.rec.label}: only ${pings} ${JSON.stringify(ping)} ping(s) in ${IDLE_MS} ms\n${c.rec.summary()}`);
      if (cfg.protocol !== 'auto') {
        c.rec.assertNone('raw', {what: "'raw' events (pings of the wrong generation?)"});
      }
      assert.equal(await c.invoke('echo', 'after idle'), 'after idle');
    });
  }

  it('--protocol auto: an sc14 and an sc20 client connected at once both stay up', {timeout: IDLE_MS + 15000}, async (t) => {
    const srv = await pool.get('auto');
    const c14 = await connectClient(t, 'v14', srv.port);
    const c20 = await connectClient(t, 'v20', srv.port);
    const s14 = c14.rec.mark();
    const s20 = c20.rec.mark();
    const [id14, id20] = [c14.id, c20.id];
    await quietPeriod(IDLE_MS);
    assertStayedConnected(c14, s14, id14);
    assertStayedConnected(c20, s20, id20);
    assert.equal(await c14.invoke('echo', 14), 14);
    assert.equal(await c20.invoke('echo', 20), 20);
  });

  for (const protocol of ['1', '2', 'auto']) {
    it(`--protocol ${protocol}: a raw client that never answers pings is closed with 4001 after pingTimeout`, {timeout: 20000}, async (t) => {
      const srv = await pool.get(protocol);
      const raw = rawClient(t, srv.port, {pong: 'none'});
      await raw.connect();
      const start = Date.now();
      const close = await raw.waitClose({timeout: PING_TIMEOUT_MS + PING_INTERVAL_MS + 4000, what: 'close 4001 (client pong timed out)'});
      const elapsed = Date.now() - start;
      assert.equal(close.code, 4001, `close code: ${JSON.stringify(close)}\n${raw.rec.summary()}`);
      assert.ok(elapsed >= PING_TIMEOUT_MS - 500, `closed after ${elapsed} ms, before pingTimeout (${PING_TIMEOUT_MS} ms)`);
    });

    const pongers = protocol === '1' ? ['v1'] : protocol === '2' ? ['v2'] : ['v1', 'v2'];
    for (const pong of pongers) {
      it(`--protocol ${protocol}: a raw client that answers ${pong} pings is kept for 4 x pingTimeout`, {timeout: IDLE_MS + 15000}, async (t) => {
        const srv = await pool.get(protocol);
        const raw = rawClient(t, srv.port, {pong});
        await raw.connect();
        const since = raw.rec.mark();
        await quietPeriod(IDLE_MS);
        raw.rec.assertNone('close', {what: 'close while answering pings'});
        const ping = pong === 'v1' ? '#1' : '';
        const pings = raw.rec.count('frame', {since, filter: (d) => d.text === ping});
        assert.ok(pings >= MIN_PINGS, `only ${pings} ${JSON.stringify(ping)} ping(s) in ${IDLE_MS} ms\n${raw.rec.summary()}`);
        const res = await raw.invoke('echo', 'alive');
        assert.deepEqual(res.data, 'alive', `echo response: ${JSON.stringify(res)}`);
      });
    }
  }

  // The client's ping timer is reset only by pings of its own generation, while the server's
  // liveness timer is reset by any inbound message. Some ordinary traffic during the first
  // pingTimeout - 1 s keeps the server from closing first (4001), so what is observed is the
  // client's own verdict: 4000 "Server ping timed out", pingTimeout after the handshake.
  it('item 11: an sc20 client (protocol v2) on a --protocol 1 listener is dropped with 4000 "Server ping timed out"', {timeout: 20000}, async (t) => {
    const srv = await pool.get('1');
    const c = await connectClient(t, 'v20', srv.port);
    const since = c.rec.mark();
    const start = Date.now();
    const traffic = setInterval(() => {
      if (Date.now() - start < PING_TIMEOUT_MS - 1000) c.transmit('record', 'keep the server timer busy');
    }, 500);
    t.after(() => clearInterval(traffic));
    const ev = await c.rec.waitFor('disconnect', {since, timeout: 2 * PING_TIMEOUT_MS + 1000, what: 'disconnect 4000 within ~2 x pingTimeout'});
    clearInterval(traffic);
    assert.equal(ev.data.code, 4000, `disconnect: ${JSON.stringify(ev.data)}\n${c.rec.summary()}`);
    assert.equal(ev.data.reason, 'Server ping timed out');
    assert.ok(c.rec.count('raw', {since}) >= 1, "the v1 pings ('#1') should have reached the v2 client as raw events");
  });

  it('documentation: an sc14 client (protocol v1) on a --protocol 2 listener is dropped with 4000 or 4001', {timeout: 20000}, async (t) => {
    const srv = await pool.get('2');
    const c = await connectClient(t, 'v14', srv.port);
    const since = c.rec.mark();
    const ev = await c.rec.waitFor('disconnect', {since, timeout: 2 * PING_TIMEOUT_MS + 1000, what: 'disconnect 4000/4001 within ~2 x pingTimeout'});
    assert.ok([4000, 4001].includes(ev.data.code), `disconnect: ${JSON.stringify(ev.data)}`);
  });
});
