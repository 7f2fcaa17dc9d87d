'use strict';
// sc-protocol.md section 16, item 9 (disconnect / reconnect), for every client configuration,
// using the example binary's handlers:
//   dropMe {code, reason} -> acks, then the server closes the socket with that code and reason
//   record / recorded     -> per-socket store (see rpc.test.js)

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {serverPool} = require('../lib/server');
const {CONFIGS, connectClient, waitConnected, AUTO_RECONNECT_OPTIONS} = require('../lib/clients');
const {quietPeriod, rejection} = require('../lib/wait');

const pool = serverPool();
after(() => pool.stopAll());

// Longer than any reconnect delay the clients are configured with (maxDelay), plus slack:
// if no reconnect attempt has started by then, none is coming.
const NO_RECONNECT_QUIET_MS = AUTO_RECONNECT_OPTIONS.maxDelay + 700;

let channelCounter = 0;
function freshChannel(tag) {
  return `compat-${tag}-${process.pid}-${++channelCounter}`;
}

// The data of every '#disconnect' event frame the client received at index >= since.
function disconnectFrames(client, since) {
  const out = [];
  for (const e of client.rec.all('message', {since})) {
    let packet;
    try {
      packet = JSON.parse(e.data.message);
    } catch (err) {
      continue;
    }
    for (const p of Array.isArray(packet) ? packet : [packet]) {
      if (p && p.event === '#disconnect') out.push(p.data);
    }
  }
  return out;
}

function assertNoReconnect(client, since) {
  client.rec.assertNone(['connecting', 'connect'], {since, what: 'a reconnect attempt'});
  assert.equal(client.state, 'closed', `${client.rec.label}: state`);
}

for (const cfg of CONFIGS) {
  describe(cfg.name, () => {
    it('client disconnect(): disconnect event with 1000 and no reconnect', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const since = c.rec.mark();
      c.disconnect();
      const ev = await c.rec.waitFor('disconnect', {since});
      assert.equal(ev.data.code, 1000, `disconnect: ${JSON.stringify(ev.data)}`);
      await quietPeriod(NO_RECONNECT_QUIET_MS);
      assertNoReconnect(c, since);
    });

    it("server disconnect 4321 'test drop': the client sees code and reason, reconnects and re-subscribes", {timeout: 20000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const publisher = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('resub');
      c.subscribe(ch);
      await c.rec.waitFor('subscribe', {filter: (d) => d.channel === ch});
      const oldId = c.id;
      const since = c.rec.mark();
      await c.invoke('dropMe', {code: 4321, reason: 'test drop'});
      const ev = await c.rec.waitFor('disconnect', {since, what: 'the server-initiated disconnect'});
      assert.deepStrictEqual(ev.data, {code: 4321, reason: 'test drop'}, `disconnect event\n${c.rec.summary()}`);
      // v1 clients read the reason from the #disconnect event (sc-protocol.md section 1, item 12).
      const disconnectEvents = disconnectFrames(c, since);
      if (cfg.client !== 'v20') {
        assert.deepStrictEqual(disconnectEvents, [{code: 4321, data: 'test drop'}],
          `a v1 socket should get {"event":"#disconnect","data":{"code":4321,"data":"test drop"}} before the close\n${c.rec.summary()}`);
      } else if (cfg.protocol === '2') {
        assert.deepStrictEqual(disconnectEvents, [], 'a --protocol 2 listener should not send #disconnect');
      }
      const status = await waitConnected(c, {since});
      assert.notEqual(status.id, oldId, 'a reconnect should get a new socket id');
      await c.rec.waitFor('subscribe', {since, filter: (d) => d.channel === ch, what: `re-subscribe to ${ch} after the reconnect`});
      await publisher.invokePublish(ch, 'after reconnect');
      const msg = await c.rec.waitFor(`pub:${ch}`, {since, what: 'a publish on the re-subscribed channel'});
      assert.equal(msg.data, 'after reconnect');
    });

    it('server disconnect 4500: no reconnect', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const since = c.rec.mark();
      await c.invoke('dropMe', {code: 4500, reason: 'permanent'});
      const ev = await c.rec.waitFor('disconnect', {since});
      assert.deepStrictEqual(ev.data, {code: 4500, reason: 'permanent'}, `disconnect event\n${c.rec.summary()}`);
      await quietPeriod(NO_RECONNECT_QUIET_MS);
      assertNoReconnect(c, since);
    });

    it('invokes pending when the connection drops fail with BadConnectionError', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      // 'noSuchHandler' is never answered, so it is still pending when the drop comes.
      const pending = [c.invoke('noSuchHandler', 1), c.invoke('noSuchHandler', 2)];
      const since = c.rec.mark();
      await c.invoke('dropMe', {code: 4321, reason: 'drop while pending'});
      for (const p of pending) {
        const err = await rejection(p, 'a pending invoke');
        assert.equal(err.name, 'BadConnectionError', `error: ${err.name}: ${err.message}`);
        assert.equal(err.type, 'disconnect');
      }
      await c.rec.waitFor('disconnect', {since});
    });

    it('an emit while disconnected triggers a reconnect and is delivered after the handshake', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const oldId = c.id;
      const since = c.rec.mark();
      c.disconnect();
      await c.rec.waitFor('disconnect', {since});
      assert.equal(c.state, 'closed');
      c.transmit('record', 'sent while disconnected');
      const echoed = c.invoke('echo', 'invoked while disconnected');
      const status = await waitConnected(c, {since});
      assert.notEqual(status.id, oldId);
      assert.equal(await echoed, 'invoked while disconnected');
      assert.deepStrictEqual(await c.invoke('recorded'), ['sent while disconnected'],
        'the queued transmit should reach the new connection once');
    });
  });
}
