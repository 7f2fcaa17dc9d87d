'use strict';
// sc-protocol.md section 16, items 1 (connect) and 2 (path), for every client configuration.

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {serverPool, PING_TIMEOUT_MS} = require('../lib/server');
const {CONFIGS, createClient, connectClient} = require('../lib/clients');

const pool = serverPool();
after(() => pool.stopAll());

for (const cfg of CONFIGS) {
  describe(cfg.name, () => {
    it('connect: handshake status has a non-empty id, pingTimeout and isAuthenticated:false; ids are distinct', {timeout: 20000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port, {query: {a: '1'}});
      const b = await connectClient(t, cfg.client, srv.port, {query: {a: '1'}});
      const sa = a.rec.all('connect')[0].data;
      const sb = b.rec.all('connect')[0].data;
      for (const [c, s] of [[a, sa], [b, sb]]) {
        assert.equal(typeof s.id, 'string', `${c.rec.label}: id should be a string, got ${JSON.stringify(s)}`);
        assert.ok(s.id.length > 0, `${c.rec.label}: id should be non-empty`);
        assert.equal(s.pingTimeout, PING_TIMEOUT_MS, `${c.rec.label}: pingTimeout`);
        assert.equal(s.isAuthenticated, false, `${c.rec.label}: isAuthenticated`);
        assert.equal(c.id, s.id, `${c.rec.label}: socket.id should be the handshake id`);
        assert.equal(c.state, 'open');
      }
      assert.notEqual(sa.id, sb.id, 'two clients must get different socket ids');
    });

    it("path: '/socketcluster/' connects; a wrong path gets connectAbort 1006 and the server keeps serving", {timeout: 20000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const good = await connectClient(t, cfg.client, srv.port, {path: '/socketcluster/'});
      assert.equal(good.state, 'open');

      const bad = createClient(t, cfg.client, srv.port, {path: '/not-socketcluster/'});
      bad.connect();
      const ev = await bad.rec.waitFor(['connect', 'connectAbort'], {what: 'connectAbort for the wrong path'});
      assert.equal(ev.name, 'connectAbort', `wrong path must not connect: ${JSON.stringify(ev.data)}`);
      assert.equal(ev.data.code, 1006, `connectAbort code: ${JSON.stringify(ev.data)}`);
      bad.destroy();

      srv.assertAlive();
      const after = await connectClient(t, cfg.client, srv.port);
      assert.equal(await after.invoke('echo', 'still serving'), 'still serving');
      // The client that connected first is still fine too.
      assert.equal(await good.invoke('echo', 'good'), 'good');
    });
  });
}
