'use strict';
// sc-protocol.md section 16, item 8 (auth), for every client configuration, against the real
// `scgate` binary with the sample plugins (lib/plugins.js):
//   login           -> `login {username, channels}` signs the claims into the socket's token;
//                      `logout` deauthenticates it
//   access-control  -> `private/...` channels need a token whose `channels` lists them
//   ping            -> acks with its data (any message to the server)
// Node signs and verifies tokens as a Node SocketCluster 20 server does (lib/auth.js): the
// interoperability check of issue 5, both ways, with the shared `--auth-key`.

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {pluginServerPool} = require('../lib/plugins');
const {CONFIGS, connectClient, createClient, waitConnected, subscribed, subscribeRefused} = require('../lib/clients');
const {rejection} = require('../lib/wait');
const {
  AUTH_KEY, DEFAULT_EXPIRY_S, nodeSign, nodeVerify, authenticate, deauthenticate, storedToken, storeToken, pastExpiry,
} = require('../lib/auth');

const pool = pluginServerPool({plugins: ['demo-login', 'access-control', 'ping']});
after(() => pool.stopAll());
// No leeway, so that a token expires on the second the tests expect.
const AUTH_ARGS = ['--auth-key', AUTH_KEY, '--auth-leeway-s', '0'];
const server = (cfg) => pool.get(cfg.protocol, AUTH_ARGS);

// Logs `c` in through the login plugin with `channels`; resolves with the invoke's result.
function login(c, username, channels = []) {
  return c.invoke('login', {username, channels});
}

for (const cfg of CONFIGS) {
  describe(`auth: ${cfg.name}`, () => {
    it('login: authenticated when the invoke resolves; iat, exp = iat + 86400; HS256 that Node verifies', {timeout: 15000}, async (t) => {
      const srv = await server(cfg);
      const c = await connectClient(t, cfg.client, srv.port);
      assert.equal(c.authState, 'unauthenticated');
      const before = Math.floor(Date.now() / 1000);
      await login(c, 'alice', ['private/a']);
      // Checked synchronously after the invoke resolved: #setAuthToken came first.
      assert.equal(c.authState, 'authenticated', 'not authenticated by the time login resolved');
      const claims = c.authToken;
      assert.equal(claims.username, 'alice');
      assert.deepStrictEqual(claims.channels, ['private/a']);
      assert.ok(claims.iat >= before && claims.iat <= Math.ceil(Date.now() / 1000), `iat ${claims.iat}`);
      assert.equal(claims.exp, claims.iat + DEFAULT_EXPIRY_S);
      await c.rec.waitFor('authenticate', {what: "the 'authenticate' event"});
      // The token verifies in Node as a SocketCluster server verifies it, and with jsonwebtoken.
      const signed = c.socket.signedAuthToken;
      assert.equal(await storedToken(c), signed, 'the client stored the token');
      const {viaServer, strict, header} = await nodeVerify(signed);
      assert.deepStrictEqual(header, {alg: 'HS256', typ: 'JWT'});
      assert.deepStrictEqual(viaServer, claims);
      assert.deepStrictEqual(strict, claims);
    });

    it('waitForAuth: the channel subscribes only after login, which grants it', {timeout: 15000}, async (t) => {
      const srv = await server(cfg);
      const c = await connectClient(t, cfg.client, srv.port);
      const since = c.rec.mark();
      c.subscribe('private/w', {waitForAuth: true});
      // A round trip: anything the client had sent by now has been answered.
      assert.equal(await c.invoke('ping', 1), 1);
      c.rec.assertNone(['subscribe', 'subscribeFail'], {since, what: 'a subscribe before login'});
      assert.equal(c.isSubscribed('private/w'), false);
      // access-control refuses private/w to anyone whose token does not list it, so the
      // subscription can only succeed if it went out after #setAuthToken.
      await login(c, 'wendy', ['private/w']);
      const ev = await c.rec.waitFor(['subscribe', 'subscribeFail'], {since, filter: (d) => d.channel === 'private/w', what: "'subscribe' for private/w"});
      assert.equal(ev.name, 'subscribe', `subscribeFail: ${JSON.stringify(ev.data)}`);
    });

    it('reconnect: the handshake carries the stored token, isAuthenticated, channels re-subscribed', {timeout: 20000}, async (t) => {
      const srv = await server(cfg);
      const c = await connectClient(t, cfg.client, srv.port);
      await login(c, 'rita', ['private/r']);
      await subscribed(c, 'private/r');
      const token = c.socket.signedAuthToken;
      c.disconnect();
      await c.rec.waitFor(['disconnect', 'close'], {what: 'the disconnect'});
      const since = c.rec.mark();
      c.connect();
      const status = await waitConnected(c, {since});
      assert.equal(status.isAuthenticated, true, `connect status: ${JSON.stringify(status)}`);
      assert.equal(status.authError, undefined);
      assert.equal(status.authToken, token, 'the handshake carried the stored token');
      assert.equal(c.authState, 'authenticated');
      // private/r needs the token's claims: re-subscribing proves the server holds them.
      await c.rec.waitFor('subscribe', {since, filter: (d) => d.channel === 'private/r', what: 're-subscribe of private/r'});
    });

    it("authenticate(a Node-signed token) -> isAuthenticated; authenticate('bad') -> AuthTokenInvalidError, token removed", {timeout: 15000}, async (t) => {
      const srv = await server(cfg);
      const c = await connectClient(t, cfg.client, srv.port);
      const token = await nodeSign({username: 'nina', channels: ['private/n']});
      const status = await authenticate(c, token);
      assert.equal(status.isAuthenticated, true, JSON.stringify(status));
      assert.ok(status.authError == null, JSON.stringify(status));
      assert.equal(c.authState, 'authenticated');
      assert.equal(c.authToken.username, 'nina');
      await subscribed(c, 'private/n');

      const err = await rejection(authenticate(c, 'bad'), "authenticate('bad')");
      assert.equal(err.name, 'AuthTokenInvalidError', `${err.name}: ${err.message}`);
      assert.equal(err.message, 'jwt malformed');
      assert.equal(c.authState, 'unauthenticated');
      assert.equal(await storedToken(c), null, 'the stored token was removed');
      assert.equal((await subscribeRefused(c, 'private/m')).name, 'SubscribeBlockedError');
    });

    it('a Node-signed token in the handshake is accepted; expired and invalid ones get their errors and are removed', {timeout: 20000}, async (t) => {
      const srv = await server(cfg);
      const good = createClient(t, cfg.client, srv.port);
      await storeToken(good, await nodeSign({username: 'otto'}));
      good.connect();
      const ok = await waitConnected(good);
      assert.equal(ok.isAuthenticated, true, JSON.stringify(ok));
      assert.equal(good.authToken.username, 'otto');

      const now = Math.floor(Date.now() / 1000);
      const cases = [
        ['expired', await nodeSign({username: 'old', iat: now - 7200, exp: now - 3600}), 'AuthTokenExpiredError'],
        ['signed with another key', await nodeSign({username: 'eve'}, {key: 'another-key-0123456789abcdef-0123456789'}), 'AuthTokenInvalidError'],
      ];
      for (const [what, token, name] of cases) {
        const c = createClient(t, cfg.client, srv.port);
        await storeToken(c, token);
        c.connect();
        const status = await waitConnected(c);
        assert.equal(status.isAuthenticated, false, `${what}: ${JSON.stringify(status)}`);
        assert.equal(status.authError && status.authError.name, name, `${what}: ${JSON.stringify(status)}`);
        if (name === 'AuthTokenExpiredError') {
          assert.equal(new Date(status.authError.expiry).getTime(), (now - 3600) * 1000, JSON.stringify(status));
        }
        assert.equal(c.authState, 'unauthenticated', what);
        // #removeAuthToken follows: the client drops the token.
        await c.rec.waitFor('message', {filter: (d) => d.message.includes('#removeAuthToken'), what: `#removeAuthToken (${what})`});
        assert.equal(await storedToken(c), null, `${what}: the stored token was not removed`);
      }
    });

    it('deauthentication from the server (logout) and from the client (deauthenticate())', {timeout: 15000}, async (t) => {
      const srv = await server(cfg);
      const c = await connectClient(t, cfg.client, srv.port);
      await login(c, 'dora', ['private/d']);
      let since = c.rec.mark();
      await c.invoke('logout');
      assert.equal(c.authState, 'unauthenticated', 'not deauthenticated by the time logout resolved');
      await c.rec.waitFor('deauthenticate', {since, what: "the 'deauthenticate' event"});
      assert.equal(await storedToken(c), null);

      await login(c, 'dora', ['private/d']);
      await subscribed(c, 'private/d');
      since = c.rec.mark();
      await deauthenticate(c);
      assert.equal(c.authState, 'unauthenticated');
      // The server cleared its state: the claims no longer grant a private channel.
      assert.equal((await subscribeRefused(c, 'private/d2')).name, 'SubscribeBlockedError');
    });

    it('a token that expires during the session is removed on the next message', {timeout: 20000}, async (t) => {
      const srv = await server(cfg);
      const c = await connectClient(t, cfg.client, srv.port);
      const token = await nodeSign({username: 'brief'}, {expiresIn: 2});
      const status = await authenticate(c, token);
      assert.equal(status.isAuthenticated, true);
      const since = c.rec.mark();
      await pastExpiry(c.authToken.exp);
      // The message still runs; the expiry is noticed on it (or on a pong, if one came first).
      assert.equal(await c.invoke('ping', 'after expiry'), 'after expiry');
      await c.rec.waitFor('deauthenticate', {since, what: "'deauthenticate' after the token expired"});
      assert.equal(c.authState, 'unauthenticated');
      assert.equal(await storedToken(c), null);
    });
  });
}
