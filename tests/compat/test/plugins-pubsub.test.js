'use strict';
// sc-protocol.md section 16, item 6 (pub/sub with server logic), against the real `scgate`
// binary with WebAssembly plugins (lib/plugins.js):
//   ping        -> publishes its per-worker-instance count on `pong`, acks with its data
//   host-calls  -> (fixture) `kick` <channel>: #kickOut {channel, message:'kicked by plugin'} to
//                  this socket; subscribe middleware: data {deny:true} -> SubscribeDataError
//                  "denied by data", any other data (or none) is allowed

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {pluginServerPool, pluginBuilt, skipUnlessBuilt} = require('../lib/plugins');
const {CONFIGS, connectClient, subscribed, subscribeRefused, publishFrames} = require('../lib/clients');
const {quietPeriod} = require('../lib/wait');

const HOST_CALLS_SKIP = skipUnlessBuilt('host-calls');
const pool = pluginServerPool({plugins: ['ping', ...(pluginBuilt('host-calls') ? ['host-calls'] : [])]});
after(() => pool.stopAll());

let channelCounter = 0;
function freshChannel(tag) {
  return `compat-plugins-${tag}-${process.pid}-${++channelCounter}`;
}

// A negative check needs a quiet period: after the sync point, a message the server wrongly
// sent would be on the wire already; this much extra time lets it arrive.
const GRACE_MS = 300;

// `pinger` pings once; every subscriber of `pong` in `watchers` receives the same new count.
async function pingAndSeeCount(pinger, watchers, data) {
  const marks = watchers.map((w) => w.rec.mark());
  assert.deepStrictEqual(await pinger.invoke('ping', data), data, `${pinger.rec.label}: ping ack`);
  const counts = [];
  for (const [i, w] of watchers.entries()) {
    const ev = await w.rec.waitFor('pub:pong', {since: marks[i], what: `the pong count of ${pinger.rec.label}'s ping`});
    counts.push(ev.data);
  }
  assert.ok(Number.isInteger(counts[0]) && counts[0] >= 1, `pong data should be a count: ${JSON.stringify(counts)}`);
  assert.deepStrictEqual(counts, watchers.map(() => counts[0]), `every subscriber should get the same count: ${JSON.stringify(counts)}`);
  return counts[0];
}

for (const cfg of CONFIGS) {
  describe(`plugins: ${cfg.name}`, () => {
    it('ping: the count it publishes on pong reaches every subscriber, one more per ping', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const c = await connectClient(t, cfg.client, srv.port);
      await subscribed(a, 'pong');
      await subscribed(b, 'pong');
      const first = await pingAndSeeCount(a, [a, b], {n: 1});
      // A's pings run one after the other on its worker's ping instance.
      assert.equal(await pingAndSeeCount(a, [a, b], {n: 2}), first + 1, 'the count should grow by one per ping');
      // A client that did not subscribe receives no pong, even while it pings.
      await pingAndSeeCount(c, [a, b], 'from c');
      assert.equal(await c.invoke('ping', 'sync'), 'sync');
      await quietPeriod(GRACE_MS);
      assert.deepStrictEqual(publishFrames(c, 'pong'), [], 'an unsubscribed client got pong publishes');
    });

    it('host-calls kick: kickOut event, the channel is unsubscribed and the server stops sending it', {timeout: 15000, skip: HOST_CALLS_SKIP}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('kick');
      await subscribed(a, ch);
      await subscribed(b, ch);
      await a.invokePublish(ch, 'before kick');
      await b.rec.waitFor(`pub:${ch}`, {filter: (d) => d === 'before kick', what: "'before kick' at B"});
      const mark = b.rec.mark();
      await b.invoke('kick', ch);
      const ev = await b.rec.waitFor('kickOut', {since: mark, what: "'kickOut' after host-calls kick"});
      assert.deepStrictEqual(ev.data, {channel: ch, message: 'kicked by plugin'});
      assert.equal(b.isSubscribed(ch), false, 'the kicked channel should be unsubscribed');
      const since = b.rec.mark();
      await a.invokePublish(ch, 'after kick');
      await a.rec.waitFor(`pub:${ch}`, {filter: (d) => d === 'after kick', what: "'after kick' at A"});
      assert.equal(await b.invoke('ping', 'sync'), 'sync');
      await quietPeriod(GRACE_MS);
      assert.deepStrictEqual(publishFrames(b, ch, since), [], 'the server still sent #publish to the kicked socket');
      b.rec.assertNone(`pub:${ch}`, {since, what: 'a message on the kicked channel'});
      // Only B was kicked; A still gets messages, and B can subscribe again.
      await subscribed(b, ch);
      await a.invokePublish(ch, 'again');
      await b.rec.waitFor(`pub:${ch}`, {since, filter: (d) => d === 'again', what: "'again' at B after re-subscribing"});
    });

    it('host-calls subscribe middleware sees the subscribe data: {deny:true} -> subscribeFail SubscribeDataError, other data allowed', {timeout: 15000, skip: HOST_CALLS_SKIP}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const denied = freshChannel('deny');
      const err = await subscribeRefused(b, denied, {data: {deny: true, why: 'test'}});
      assert.ok(err instanceof Error, `subscribeFail error should be an Error: ${err}`);
      assert.equal(err.name, 'SubscribeDataError', `error: ${err.name}: ${err.message}`);
      assert.equal(err.message, 'denied by data');
      assert.equal(b.isSubscribed(denied), false, 'a refused channel should not be subscribed');
      // Nothing published on the refused channel reaches B.
      await subscribed(a, denied);
      const since = b.rec.mark();
      await a.invokePublish(denied, 'not for b');
      await a.rec.waitFor(`pub:${denied}`, {what: 'the publish at A'});
      assert.equal(await b.invoke('ping', 'sync'), 'sync');
      await quietPeriod(GRACE_MS);
      assert.deepStrictEqual(publishFrames(b, denied, since), [], 'the server sent #publish on a refused subscription');

      // Other data, and no data, are allowed; so is the refused channel with other data.
      const allowed = freshChannel('allow');
      await subscribed(b, allowed, {data: {deny: false, why: 'test'}});
      await subscribed(b, freshChannel('nodata'));
      await subscribed(b, denied, {data: {deny: 'yes'}});
      await a.invokePublish(allowed, {to: 'allowed'});
      await a.invokePublish(denied, {to: 'denied, now allowed'});
      await b.rec.waitFor(`pub:${allowed}`, {what: `the publish on ${allowed} at B`});
      await b.rec.waitFor(`pub:${denied}`, {since, filter: (d) => d && d.to === 'denied, now allowed', what: `the publish on ${denied} at B`});
    });
  });
}

describe('plugins: --protocol auto: sc14, sc20 and sc20 protocolVersion:1 on one server at once', () => {
  it("every ping's count reaches every subscriber of both client generations", {timeout: 20000}, async (t) => {
    const srv = await pool.get('auto');
    const clients = [
      await connectClient(t, 'v14', srv.port),
      await connectClient(t, 'v20', srv.port),
      await connectClient(t, 'v20p1', srv.port),
      await connectClient(t, 'v14', srv.port),
      await connectClient(t, 'v20', srv.port),
    ];
    for (const c of clients) await subscribed(c, 'pong');
    const expected = [];
    for (const [i, pinger] of clients.entries()) {
      const first = await pingAndSeeCount(pinger, clients, {from: i, k: 0});
      const second = await pingAndSeeCount(pinger, clients, {from: i, k: 1});
      assert.equal(second, first + 1, `${pinger.rec.label}: its two pings should give consecutive counts`);
      expected.push(first, second);
    }
    // Every subscriber got exactly these 10 counts, in this order, and nothing else.
    for (const c of clients) {
      const got = c.rec.all('pub:pong').map((e) => e.data);
      assert.deepStrictEqual(got, expected, `${c.rec.label}: pong counts`);
    }
  });
});
