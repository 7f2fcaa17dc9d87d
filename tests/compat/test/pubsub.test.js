'use strict';
// sc-protocol.md section 16, item 6 (pub/sub), for every client configuration, plus the
// example binary's handlers that act on channels:
//   publishFromServer {channel, data} -> the server publishes data on channel, then acks
//   kickMe <channel>                  -> the server sends #kickOut {message:'You were kicked', channel}, and acks

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {serverPool} = require('../lib/server');
const {CONFIGS, connectClient} = require('../lib/clients');
const {rawClient} = require('../lib/raw');
const {quietPeriod} = require('../lib/wait');

const pool = serverPool();
after(() => pool.stopAll());

let channelCounter = 0;
function freshChannel(tag) {
  return `compat-${tag}-${process.pid}-${++channelCounter}`;
}

// Every '#publish' frame for `channel` that reached the client (at index >= since), whether or
// not the client surfaced it: the clients silently drop publishes for channels they left, so
// "the server stopped sending" can only be seen in the raw frames.
function publishFrames(client, channel, since) {
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
      if (p && p.event === '#publish' && p.data && p.data.channel === channel) out.push(p.data.data);
    }
  }
  return out;
}

async function subscribed(client, channel) {
  const since = client.rec.mark();
  client.subscribe(channel);
  await client.rec.waitFor('subscribe', {since, filter: (d) => d.channel === channel, what: `'subscribe' for ${channel}`});
}

// A negative check needs a quiet period: after the sync point, a message the server wrongly
// sent would be on the wire already; this much extra time lets it arrive.
const GRACE_MS = 300;

for (const cfg of CONFIGS) {
  describe(cfg.name, () => {
    it('subscribe: the socket and the channel both raise subscribe', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('sub');
      c.subscribe(ch);
      await c.rec.waitFor('subscribe', {filter: (d) => d.channel === ch, what: "socket 'subscribe'"});
      await c.rec.waitFor('channelSubscribe', {filter: (d) => d.channel === ch, what: "channel 'subscribe'"});
      assert.equal(c.isSubscribed(ch), true);
      c.rec.assertNone('subscribeFail');
    });

    it('publish: 100 messages from A reach B and A, in order, and every publish is acked', {timeout: 20000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('order');
      await subscribed(a, ch);
      await subscribed(b, ch);
      const N = 100;
      const expected = Array.from({length: N}, (_, i) => ({seq: i, from: 'A'}));
      await Promise.all(expected.map((m) => a.invokePublish(ch, m)));
      const [gotB, gotA] = await Promise.all([
        b.rec.waitForCount(`pub:${ch}`, N, {what: `${N} messages on ${ch} at B`}),
        a.rec.waitForCount(`pub:${ch}`, N, {what: `${N} messages on ${ch} at A`}),
      ]);
      assert.deepStrictEqual(gotB.map((e) => e.data), expected, 'B: messages out of order or changed');
      assert.deepStrictEqual(gotA.map((e) => e.data), expected, 'A: messages out of order or changed');
    });

    it('publish without ack (transmitPublish / publish without callback) is delivered', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('noack');
      await subscribed(a, ch);
      await subscribed(b, ch);
      a.transmitPublish(ch, 'no-callback 1');
      a.transmitPublish(ch, {n: 2});
      const got = await b.rec.waitForCount(`pub:${ch}`, 2, {what: 'the no-ack publishes at B'});
      assert.deepStrictEqual(got.map((e) => e.data), ['no-callback 1', {n: 2}]);
      await a.rec.waitForCount(`pub:${ch}`, 2, {what: 'the no-ack publishes at A'});
    });

    it('unsubscribe: nothing more arrives on the channel (not even on the wire)', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('unsub');
      await subscribed(a, ch);
      await subscribed(b, ch);
      await a.invokePublish(ch, 'before');
      await b.rec.waitFor(`pub:${ch}`, {filter: (d) => d === 'before', what: "'before' at B"});

      b.unsubscribe(ch);
      await b.rec.waitFor('unsubscribe', {filter: (d) => d.channel === ch, what: "'unsubscribe' event"});
      assert.equal(b.isSubscribed(ch), false);
      // #unsubscribe has no ack; an RPC after it is answered only once the server has read it.
      assert.equal(await b.invoke('echo', 'sync'), 'sync');
      const since = b.rec.mark();
      await a.invokePublish(ch, 'after');
      await a.rec.waitFor(`pub:${ch}`, {filter: (d) => d === 'after', what: "'after' at the publisher A"});
      assert.equal(await b.invoke('echo', 'sync 2'), 'sync 2');
      await quietPeriod(GRACE_MS);
      assert.deepStrictEqual(publishFrames(b, ch, since), [], 'the server still sent #publish to the unsubscribed socket');
      assert.deepStrictEqual(publishFrames(b, ch, 0), ['before'], 'frame check sees the earlier publish');
    });

    it('publishFromServer: a server-side publish reaches every subscriber, then the call is acked', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('srvpub');
      await subscribed(a, ch);
      await subscribed(b, ch);
      await a.invoke('publishFromServer', {channel: ch, data: {from: 'server', n: 1}});
      for (const c of [a, b]) {
        const ev = await c.rec.waitFor(`pub:${ch}`, {what: `the server publish at ${c.rec.label}`});
        assert.deepStrictEqual(ev.data, {from: 'server', n: 1});
      }
    });

    it('kickMe: #kickOut raises kickOut, unsubscribes the channel, and the server stops sending it', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('kick');
      await subscribed(a, ch);
      await subscribed(b, ch);
      const mark = b.rec.mark();
      await b.invoke('kickMe', ch);
      const ev = await b.rec.waitFor('kickOut', {since: mark, what: "'kickOut'"});
      assert.deepStrictEqual(ev.data, {channel: ch, message: 'You were kicked'});
      assert.equal(b.isSubscribed(ch), false, 'the kicked channel should be unsubscribed');
      const since = b.rec.mark();
      await a.invokePublish(ch, 'after kick');
      await a.rec.waitFor(`pub:${ch}`, {filter: (d) => d === 'after kick', what: "'after kick' at A"});
      assert.equal(await b.invoke('echo', 'sync'), 'sync');
      await quietPeriod(GRACE_MS);
      assert.deepStrictEqual(publishFrames(b, ch, since), [], 'the server still sent #publish to the kicked socket');
      // The kicked client can subscribe again.
      await subscribed(b, ch);
      await a.invokePublish(ch, 'again');
      await b.rec.waitFor(`pub:${ch}`, {filter: (d) => d === 'again', what: "'again' at B after re-subscribing"});
    });
  });
}

describe('--protocol auto: sc14 and sc20 on one server at once', () => {
  it('publishes cross between the generations, in order', {timeout: 20000}, async (t) => {
    const srv = await pool.get('auto');
    const c14 = await connectClient(t, 'v14', srv.port);
    const c20 = await connectClient(t, 'v20', srv.port);
    const ch = freshChannel('mixed');
    await subscribed(c14, ch);
    await subscribed(c20, ch);
    const from14 = Array.from({length: 20}, (_, i) => `14:${i}`);
    const from20 = Array.from({length: 20}, (_, i) => `20:${i}`);
    await Promise.all([...from14.map((m) => c14.invokePublish(ch, m)), ...from20.map((m) => c20.invokePublish(ch, m))]);
    for (const c of [c14, c20]) {
      const got = (await c.rec.waitForCount(`pub:${ch}`, 40, {what: `40 messages at ${c.rec.label}`})).map((e) => e.data);
      assert.deepStrictEqual(got.filter((m) => m.startsWith('14:')), from14, `${c.rec.label}: sc14's messages out of order`);
      assert.deepStrictEqual(got.filter((m) => m.startsWith('20:')), from20, `${c.rec.label}: sc20's messages out of order`);
    }
    assert.equal(await c14.invoke('echo', 'x14'), 'x14');
    assert.equal(await c20.invoke('echo', 'x20'), 'x20');
  });
});

for (const protocol of ['1', '2', 'auto']) {
  describe(`raw ws, --protocol ${protocol}`, () => {
    it('#subscribe with a non-string channel gets an error response; the server keeps working', {timeout: 15000}, async (t) => {
      const srv = await pool.get(protocol);
      const raw = rawClient(t, srv.port);
      await raw.connect();
      const res = await raw.invoke('#subscribe', {channel: 123});
      assert.ok(res.error, `expected an error response, got ${JSON.stringify(res)}`);
      assert.equal(typeof res.error.name, 'string', `error.name: ${JSON.stringify(res)}`);
      assert.equal(typeof res.error.message, 'string', `error.message: ${JSON.stringify(res)}`);
      // Same connection still works, including a valid subscribe.
      const ch = freshChannel('raw');
      const ok = await raw.invoke('#subscribe', {channel: ch});
      assert.equal(ok.error, undefined, `valid subscribe failed: ${JSON.stringify(ok)}`);
      const echo = await raw.invoke('echo', 'still here');
      assert.equal(echo.data, 'still here');
      srv.assertAlive();
      raw.rec.assertNone('close');
    });
  });
}
