'use strict';
// sc-protocol.md section 16, item 7 (middleware) through the `access-control` plugin, and login
// through the `login` plugin, against the real `scgate` binary (lib/plugins.js). access-control's
// default rules:
//   publish-in   `blocked` -> PublishBlockedError "Publishing to blocked is not allowed";
//                `silentBlocked` -> SilentMiddlewareBlockedError; data {rewrite:true,...} -> +rewritten:true
//   publish-out  data {dropOut:true,...} -> that delivery is dropped
//   subscribe    `forbidden` -> SubscribeBlockedError "You cannot subscribe to forbidden"
//   emit         `forbiddenEvent` -> EmitBlockedError "Emit of forbiddenEvent is blocked"
//   handshake    query rejectws=1 -> HTTP 401; rejectsc=1 -> HandshakeRejectedError
//                "SC handshake rejected by test", close 4008 (or code=N)
//   `private/...` channels: subscribe/publish need a token with role admin or the channel in `channels`
// login: `login` {username, role?, channels?} -> #setAuthToken before the ack; no username -> LoginError.

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {pluginServerPool} = require('../lib/plugins');
const {
  CONFIGS, createClient, connectClient, subscribed, subscribeRefused, publishFrames, inboundPackets, AUTO_RECONNECT_OPTIONS,
} = require('../lib/clients');
const {quietPeriod, rejection} = require('../lib/wait');

const pool = pluginServerPool({plugins: ['access-control', 'demo-login', 'ping']});
after(() => pool.stopAll());

let channelCounter = 0;
function freshChannel(tag) {
  return `compat-mw-${tag}-${process.pid}-${++channelCounter}`;
}

const GRACE_MS = 300;
// A client that was refused retries within maxDelay; leave slack for a loaded machine.
const RETRY_WITHIN_MS = AUTO_RECONNECT_OPTIONS.maxDelay + 2000;
const DEFAULT_EXPIRY_S = 86400;

// The two wordings of a silent block (sc-protocol.md section 12).
const SILENT_V1 = {message: 'Action was silently blocked by publishIn middleware', type: 'publishIn'};
const SILENT_V2 = {message: 'The publishIn AGAction was blocked by inbound middleware', type: 'inbound'};

// Creates a client that should be refused, waits for `attempts` connectAborts (each after its
// own 'connecting'), and returns the connectAbort events; the client is destroyed afterwards.
async function refusedAttempts(t, cfg, port, query, attempts = 2) {
  const c = createClient(t, cfg.client, port, {query});
  c.connect();
  const aborts = await c.rec.waitForCount(['connect', 'connectAbort'], attempts, {
    timeout: 5000 + attempts * RETRY_WITHIN_MS, what: `${attempts} connection attempts ending in connectAbort`,
  });
  c.destroy();
  for (const ev of aborts) {
    assert.equal(ev.name, 'connectAbort', `${c.rec.label}: a refused client connected: ${JSON.stringify(ev.data)}\n${c.rec.summary()}`);
  }
  const connecting = c.rec.count('connecting', {filter: (d, e) => e.i < aborts[attempts - 1].i});
  assert.ok(connecting >= attempts, `${c.rec.label}: each attempt should start with 'connecting' (retries)\n${c.rec.summary()}`);
  return {client: c, aborts: aborts.map((e) => e.data)};
}

// The client's 'error' event with the server's handshake error (sc14 raises errors from a timer,
// so it may come after the connectAbort).
async function hydratedHandshakeError(client) {
  const ev = await client.rec.waitFor('error', {
    filter: (d) => d.error && d.error.name === 'HandshakeRejectedError', what: "an 'error' event with the HandshakeRejectedError",
  });
  return ev.data.error;
}

for (const cfg of CONFIGS) {
  describe(`plugins: ${cfg.name}`, () => {
    it('publish-in: blocked -> PublishBlockedError, silentBlocked -> SilentMiddlewareBlockedError, not published', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      await subscribed(b, 'blocked');
      await subscribed(b, 'silentBlocked');
      const since = b.rec.mark();

      const err = await rejection(a.invokePublish('blocked', {n: 1}), "invokePublish('blocked')");
      assert.ok(err instanceof Error, `should be an Error: ${err}`);
      assert.equal(err.name, 'PublishBlockedError', `error: ${err.name}: ${err.message}`);
      assert.equal(err.message, 'Publishing to blocked is not allowed');

      const silent = await rejection(a.invokePublish('silentBlocked', {n: 2}), "invokePublish('silentBlocked')");
      assert.equal(silent.name, 'SilentMiddlewareBlockedError', `error: ${silent.name}: ${silent.message}`);
      // A fixed listener words it as its generation does; `auto` knows the generation only after
      // the first pong, so either wording is right there.
      const wanted = cfg.protocol === '1' ? [SILENT_V1] : cfg.protocol === '2' ? [SILENT_V2] : [SILENT_V1, SILENT_V2];
      assert.ok(wanted.some((w) => w.message === silent.message && w.type === silent.type),
        `silent block ${JSON.stringify({message: silent.message, type: silent.type})}, wanted one of ${JSON.stringify(wanted)}`);

      // A publish without callback is blocked just the same (nothing comes back to a transmit).
      a.transmitPublish('blocked', {n: 3});
      a.transmitPublish('silentBlocked', {n: 4});
      assert.equal(await a.invoke('ping', 'sync'), 'sync');
      assert.equal(await b.invoke('ping', 'sync'), 'sync');
      await quietPeriod(GRACE_MS);
      assert.deepStrictEqual(publishFrames(b, 'blocked', since), [], 'a blocked publish was delivered');
      assert.deepStrictEqual(publishFrames(b, 'silentBlocked', since), [], 'a silently blocked publish was delivered');
      a.rec.assertNone(['disconnect', 'close']);
    });

    it('publish-in rewrite and publish-out drop: {dropOut:true} is acked but not delivered', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const a = await connectClient(t, cfg.client, srv.port);
      const b = await connectClient(t, cfg.client, srv.port);
      const ch = freshChannel('out');
      await subscribed(a, ch);
      await subscribed(b, ch);
      const since = [a.rec.mark(), b.rec.mark()];
      await a.invokePublish(ch, {dropOut: true, n: 1}); // resolves: the publisher is acked
      await a.invokePublish(ch, {rewrite: true, n: 2});
      await a.invokePublish(ch, {n: 3});
      for (const [i, c] of [a, b].entries()) {
        const got = (await c.rec.waitForCount(`pub:${ch}`, 2, {since: since[i], what: `the two delivered messages at ${c.rec.label}`}))
          .map((e) => e.data);
        assert.deepStrictEqual(got, [{rewrite: true, n: 2, rewritten: true}, {n: 3}], `${c.rec.label}: delivered messages`);
      }
      await quietPeriod(GRACE_MS);
      for (const [i, c] of [a, b].entries()) {
        assert.deepStrictEqual(publishFrames(c, ch, since[i]), [{rewrite: true, n: 2, rewritten: true}, {n: 3}],
          `${c.rec.label}: #publish frames (the dropOut message must not be on the wire)`);
      }
    });

    it('subscribe: forbidden -> subscribeFail with SubscribeBlockedError; other channels still subscribe', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const err = await subscribeRefused(c, 'forbidden');
      assert.ok(err instanceof Error, `should be an Error: ${err}`);
      assert.equal(err.name, 'SubscribeBlockedError', `error: ${err.name}: ${err.message}`);
      assert.equal(err.message, 'You cannot subscribe to forbidden');
      assert.equal(c.isSubscribed('forbidden'), false);
      c.rec.assertNone('subscribe', {filter: (d) => d.channel === 'forbidden'});
      await subscribed(c, freshChannel('ok'));
    });

    it('emit: forbiddenEvent -> EmitBlockedError; the connection keeps working', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const err = await rejection(c.invoke('forbiddenEvent', {x: 1}), "invoke('forbiddenEvent')");
      assert.ok(err instanceof Error, `should be an Error: ${err}`);
      assert.equal(err.name, 'EmitBlockedError', `error: ${err.name}: ${err.message}`);
      assert.equal(err.message, 'Emit of forbiddenEvent is blocked');
      c.transmit('forbiddenEvent', 'no reply expected');
      assert.equal(await c.invoke('ping', 'still works'), 'still works');
      c.rec.assertNone(['disconnect', 'close']);
    });

    it('handshake-ws: rejectws=1 -> connectAbort 1006, and the client retries', {timeout: 20000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const {aborts} = await refusedAttempts(t, cfg, srv.port, {rejectws: '1'});
      for (const ab of aborts) assert.equal(ab.code, 1006, `connectAbort: ${JSON.stringify(ab)}`);
      srv.assertAlive();
      const ok = await connectClient(t, cfg.client, srv.port, {query: {rejectws: '0'}});
      assert.equal(await ok.invoke('ping', 'ok'), 'ok');
    });

    it('handshake-sc: rejectsc=1 -> connectAbort 4008 and the hydrated HandshakeRejectedError; retries', {timeout: 20000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const {client, aborts} = await refusedAttempts(t, cfg, srv.port, {rejectsc: '1'});
      for (const ab of aborts) {
        assert.deepStrictEqual(ab, {code: 4008, reason: 'HandshakeRejectedError: SC handshake rejected by test'},
          `connectAbort\n${client.rec.summary()}`);
      }
      const hydrated = await hydratedHandshakeError(client);
      assert.ok(hydrated instanceof Error, 'the hydrated error should be an Error');
      assert.equal(hydrated.message, 'SC handshake rejected by test');
      assert.equal(hydrated.statusCode ?? 4008, 4008);
      client.rec.assertNone('connect', {what: 'a connect of the rejected client'});
    });

    it('handshake-sc: rejectsc=1&code=4321 -> connectAbort 4321', {timeout: 20000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const {client, aborts} = await refusedAttempts(t, cfg, srv.port, {rejectsc: '1', code: '4321'}, 1);
      assert.deepStrictEqual(aborts[0], {code: 4321, reason: 'HandshakeRejectedError: SC handshake rejected by test'},
        `connectAbort\n${client.rec.summary()}`);
      const hydrated = await hydratedHandshakeError(client);
      assert.equal(hydrated.message, 'SC handshake rejected by test');
      assert.equal(hydrated.statusCode ?? 4321, 4321);
    });

    it('login: authenticated when the invoke resolves; authToken has username, iat, exp = iat + 86400', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      assert.equal(c.authState, 'unauthenticated');
      const since = c.rec.mark();
      const before = Math.floor(Date.now() / 1000);
      let stateInCallback;
      if (cfg.client === 'v14') {
        // v14 calls back synchronously from the response frame: check the state right there.
        await new Promise((resolve, reject) => c.socket.emit('login', {username: 'alice'}, (err) => {
          stateInCallback = c.socket.authState;
          return err ? reject(err) : resolve();
        }));
      } else {
        await c.invoke('login', {username: 'alice'});
      }
      const stateAfter = c.authState;
      if (stateInCallback !== undefined) assert.equal(stateInCallback, 'authenticated', 'authState inside the emit callback');
      assert.equal(stateAfter, 'authenticated', 'authState when the login invoke resolved');
      // On the wire: #setAuthToken (no cid) came before the login's response. (sc20 records
      // 'message' events asynchronously: wait until the response is recorded.)
      await c.rec.waitFor('message', {since, filter: (d) => /"rid"/.test(d.message), what: "the login response's frame"});
      const packets = inboundPackets(c, since);
      const setIdx = packets.findIndex((p) => p.event === '#setAuthToken');
      const resIdx = packets.findIndex((p) => p.rid !== undefined);
      assert.ok(setIdx >= 0 && resIdx >= 0 && setIdx < resIdx, `#setAuthToken should precede the response: ${JSON.stringify(packets)}`);
      assert.equal(packets[setIdx].cid, undefined, '#setAuthToken carries no cid');
      assert.equal(typeof packets[setIdx].data.token, 'string');

      const tok = c.authToken;
      assert.ok(tok && typeof tok === 'object', `authToken: ${JSON.stringify(tok)}`);
      assert.equal(tok.username, 'alice');
      assert.equal(tok.role, 'user');
      assert.deepStrictEqual(tok.channels, []);
      assert.ok(Number.isInteger(tok.iat), `iat: ${JSON.stringify(tok)}`);
      assert.ok(tok.iat >= before - 5 && tok.iat <= Math.ceil(Date.now() / 1000) + 5, `iat ${tok.iat} should be now (${before})`);
      assert.equal(tok.exp, tok.iat + DEFAULT_EXPIRY_S, `exp should be iat + ${DEFAULT_EXPIRY_S}: ${JSON.stringify(tok)}`);
      const auth = await c.rec.waitFor('authenticate', {since, what: "the 'authenticate' event"});
      assert.equal(auth.data.authToken.username, 'alice');
    });

    it('protected private/... channel: refused before login, allowed after login with channels:[...]', {timeout: 15000}, async (t) => {
      const srv = await pool.get(cfg.protocol);
      const c = await connectClient(t, cfg.client, srv.port);
      const ch = `private/${freshChannel('priv')}`;
      const other = `private/${freshChannel('other')}`;
      const err = await subscribeRefused(c, ch);
      assert.equal(err.name, 'SubscribeBlockedError', `error: ${err.name}: ${err.message}`);
      assert.equal(err.message, `You cannot subscribe to ${ch}`);
      const pubErr = await rejection(c.invokePublish(ch, 'x'), `publish to ${ch} before login`);
      assert.equal(pubErr.name, 'PublishBlockedError', `error: ${pubErr.name}: ${pubErr.message}`);
      assert.equal(pubErr.message, `Publishing to ${ch} is not allowed`);

      await c.invoke('login', {username: 'bob', channels: [ch]});
      assert.equal(c.authState, 'authenticated');
      assert.deepStrictEqual(c.authToken.channels, [ch]);
      await subscribed(c, ch);
      await c.invokePublish(ch, {hello: 'private'});
      const ev = await c.rec.waitFor(`pub:${ch}`, {what: `the publish on ${ch}`});
      assert.deepStrictEqual(ev.data, {hello: 'private'});
      // A protected channel the token does not list stays closed.
      const err2 = await subscribeRefused(c, other);
      assert.equal(err2.name, 'SubscribeBlockedError');
    });
  });
}
