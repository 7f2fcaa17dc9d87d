'use strict';
// Issue 6: two scgate nodes on one engine (redis-server or nats-server) act as one. The real
// socketcluster-client 14.3.2 on one node and 20.0.2 on the other subscribe to one channel and
// publish to each other; each sees every message of the other, in order, once.
// test/cluster-redis.test.js and test/cluster-nats.test.js run it per engine.

const {describe, it, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer} = require('./server');
const {connectClient} = require('./clients');
const {startPluginServer, skipUnlessBuilt} = require('./plugins');

async function subscribed(client, channel) {
  const since = client.rec.mark();
  client.subscribe(channel);
  await client.rec.waitFor('subscribe', {since, filter: (d) => d.channel === channel, what: `'subscribe' for ${channel}`});
}

// Starts `startEngine()` and two servers on it, and runs the exchange between them.
function clusterSuite(name, startEngine) {
  let engine;
  const nodes = [];
  // Two `scgate serve` nodes with the host-calls fixture plugin (kv-* events), when it is built.
  const pluginNodes = [];
  const notBuilt = skipUnlessBuilt('host-calls');

  before(async () => {
    engine = await startEngine();
    const extraArgs = ['--broker', engine.url];
    for (let i = 0; i < 2; i++) {
      nodes.push(await startServer({protocol: 'auto', extraArgs}));
      if (!notBuilt) pluginNodes.push(await startPluginServer({plugins: ['host-calls'], extraArgs}));
    }
  });

  after(async () => {
    for (const node of [...nodes, ...pluginNodes]) await node.stop();
    if (engine) await engine.stop();
  });

  describe(`cluster over ${name}`, () => {
    it('sc14 on node 1 and sc20 on node 2 exchange 50 messages each way, in order, once', {timeout: 30000}, async (t) => {
      const a = await connectClient(t, 'v14', nodes[0].port);
      const b = await connectClient(t, 'v20', nodes[1].port);
      const ch = `cluster-${process.pid}`;
      await subscribed(a, ch);
      await subscribed(b, ch);
      const N = 50;
      const fromA = Array.from({length: N}, (_, i) => ({seq: i, from: 'A'}));
      const fromB = Array.from({length: N}, (_, i) => ({seq: i, from: 'B'}));
      await Promise.all([...fromA.map((m) => a.invokePublish(ch, m)), ...fromB.map((m) => b.invokePublish(ch, m))]);
      for (const c of [a, b]) {
        const got = (await c.rec.waitForCount(`pub:${ch}`, 2 * N, {what: `${2 * N} messages at ${c.rec.label}`}))
          .map((e) => e.data);
        assert.deepStrictEqual(got.filter((m) => m.from === 'A'), fromA, 'messages from A out of order or changed');
        assert.deepStrictEqual(got.filter((m) => m.from === 'B'), fromB, 'messages from B out of order or changed');
      }
      // Once: an RPC round trip later, no extra copy has arrived.
      assert.equal(await a.invoke('echo', 'sync'), 'sync');
      assert.equal(a.rec.all(`pub:${ch}`).length, 2 * N);
      assert.equal(b.rec.all(`pub:${ch}`).length, 2 * N);
    });

    it('plugin kv-incr from both nodes at once is atomic, and kv-get sees it on either', {timeout: 30000, skip: notBuilt}, async (t) => {
      const a = await connectClient(t, 'v20', pluginNodes[0].port);
      const b = await connectClient(t, 'v14', pluginNodes[1].port);
      const key = `hits-${process.pid}`;
      const N = 40;
      const calls = [];
      for (let i = 0; i < N; i++) {
        calls.push(a.invoke('kv-incr', {key, by: 1}), b.invoke('kv-incr', {key, by: 1}));
      }
      const values = (await Promise.all(calls)).sort((x, y) => x - y);
      assert.deepStrictEqual(values, Array.from({length: 2 * N}, (_, i) => i + 1), 'an increment was lost or repeated');
      assert.equal(await a.invoke('kv-get', key), String(2 * N));
      assert.equal(await b.invoke('kv-get', key), String(2 * N));
    });
  });
}

module.exports = {clusterSuite};
