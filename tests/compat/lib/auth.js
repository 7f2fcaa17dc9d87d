'use strict';
// Auth helpers for test/auth-*.test.js over both client generations (lib/clients.js adapters),
// using each package's public API: sc14 callbacks, sc20 promises. Tokens are signed and verified
// in Node exactly as a Node SocketCluster 20 server does it: ag-auth 2.1.1 (its AuthEngine, over
// jsonwebtoken) with the server's default options, plus the pinned `jsonwebtoken` directly.

const jwt = require('jsonwebtoken');
const AuthEngine = require('ag-auth');

// The key every auth test server shares with Node (`--auth-key`); SocketCluster's `authKey`.
const AUTH_KEY = 'compat-auth-key-0123456789abcdef-0123456789';
// SocketCluster's `authDefaultExpiry` and scgate's `auth_default_expiry_s` default.
const DEFAULT_EXPIRY_S = 86400;

const nodeServerAuth = new AuthEngine();

// Signs `claims` as a Node SC 20 server's socket.setAuthToken does (HS256, expiresIn unless exp).
function nodeSign(claims, {expiresIn = DEFAULT_EXPIRY_S, key = AUTH_KEY} = {}) {
  const options = claims.exp == null ? {expiresIn} : {};
  return nodeServerAuth.signToken(claims, key, options);
}

// Verifies a token as a Node SC 20 server does (ag-auth, the server's default options) and,
// separately, with jsonwebtoken pinned to HS256; resolves with the claims.
async function nodeVerify(token) {
  const viaServer = await nodeServerAuth.verifyToken(token, AUTH_KEY, {});
  const strict = jwt.verify(token, AUTH_KEY, {algorithms: ['HS256']});
  return {viaServer, strict, header: jwt.decode(token, {complete: true}).header};
}

// client.authenticate(token) → the authStatus, or a rejection with the error.
function authenticate(c, token) {
  if (c.kind === 'v14') {
    return new Promise((resolve, reject) => {
      c.socket.authenticate(token, (err, status) => (err ? reject(err) : resolve(status)));
    });
  }
  return c.socket.authenticate(token);
}

// client.deauthenticate(): drops the token and tells the server.
function deauthenticate(c) {
  if (c.kind === 'v14') {
    return new Promise((resolve) => {
      c.socket.deauthenticate(() => resolve());
    });
  }
  return c.socket.deauthenticate();
}

// The token in the client's own storage (what it sends in its next #handshake), or null.
function storedToken(c) {
  if (c.kind === 'v14') {
    return new Promise((resolve, reject) => {
      c.socket.auth.loadToken(c.socket.authTokenName, (err, token) => (err ? reject(err) : resolve(token)));
    });
  }
  return c.socket.auth.loadToken(c.socket.authTokenName);
}

// Puts `token` into the client's storage, as if an earlier session had received it.
function storeToken(c, token) {
  if (c.kind === 'v14') {
    return new Promise((resolve) => {
      c.socket.auth.saveToken(c.socket.authTokenName, token, {}, () => resolve());
    });
  }
  return c.socket.auth.saveToken(c.socket.authTokenName, token);
}

// Resolves once the wall clock is past `exp` (seconds): expiry is about time, not about events.
function pastExpiry(exp) {
  const wait = exp * 1000 + 50 - Date.now();
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
}

module.exports = {
  AUTH_KEY, DEFAULT_EXPIRY_S, nodeSign, nodeVerify, authenticate, deauthenticate, storedToken, storeToken, pastExpiry,
};
