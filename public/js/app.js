// The sample page: the real socketcluster-client (v20, browser build from npm, put in
// public/vendor/ by scripts/public-deps.sh) against scgate, with the sample plugins `demo-login`,
// `ping` and `access-control`, and the live plugin status (plugins.js).

import {$, on, log, result, errorText, show, clock} from './ui.js';
import {startChannels} from './channels.js';
import {startAccessTries} from './access.js';
import {startPluginStatus} from './plugins.js';

// The gateway's SocketCluster endpoint (its `path` setting; the client's default too).
const PATH = '/socketcluster/';

async function main() {
  let client;
  try {
    client = await import('../vendor/socketcluster-client.min.js');
  } catch (e) {
    missingClient();
    return;
  }
  $('client-version').textContent = client.version;
  const socket = client.create({path: PATH});
  // For trying things in the browser console.
  window.socket = socket;

  watchConnection(socket);
  startLogin(socket);
  startPing(socket);
  startChannels(socket);
  startAccessTries(socket);
  startPluginStatus(socket);
}

function missingClient() {
  const state = $('conn');
  state.dataset.state = 'closed';
  $('conn-text').textContent = 'client library missing';
  log('err', 'public/vendor/socketcluster-client.min.js is missing: run scripts/public-deps.sh ' +
    '(scripts/run.sh does), then reload');
}

function showState(socket) {
  const state = socket.state;
  const pill = $('conn');
  pill.dataset.state = state;
  $('conn-text').textContent = state === 'open' ? `connected · ${socket.id}` : state === 'connecting' ?
    'connecting…' : 'disconnected';
  $('state').textContent = state;
  $('socket-id').textContent = state === 'open' ? socket.id : '–';
  $('reconnect').textContent = state === 'closed' ? 'Connect' : 'Reconnect';
}

function watchConnection(socket) {
  showState(socket);
  on(socket, 'connecting', () => showState(socket));
  on(socket, 'connect', ({id}) => {
    showState(socket);
    log('ok', `connected: socket id ${id}`);
  });
  on(socket, 'disconnect', ({code, reason}) => {
    showState(socket);
    log('err', `disconnected: code ${code}${reason ? ` (${reason})` : ''}`);
  });
  on(socket, 'close', () => showState(socket));
  on(socket, 'error', ({error}) => log('err', `socket error: ${errorText(error)}`));
  on(socket, 'kickOut', ({channel, message}) => log('err', `kicked out of ${channel}: ${message}`));
  $('reconnect').onclick = () => socket.reconnect();
  $('disconnect').onclick = () => socket.disconnect();
}

// The token's claims, one per line, with its times explained.
function showClaims(socket) {
  const claims = socket.authToken;
  $('auth-state').textContent = claims ? `yes, as ${claims.username} (${claims.role})` : 'no';
  if (!claims) {
    $('claims').textContent = 'not signed in';
    return;
  }
  const notes = {
    iat: (t) => clock(new Date(t * 1000)),
    exp: (t) => `in ${Math.round((t * 1000 - Date.now()) / 3600000)} h`,
  };
  const keys = Object.keys(claims);
  const lines = keys.map((key, i) => {
    const line = `  ${JSON.stringify(key)}: ${JSON.stringify(claims[key])}${i < keys.length - 1 ? ',' : ''}`;
    const note = notes[key] && typeof claims[key] === 'number' ? `  // ${notes[key](claims[key])}` : '';
    return line + note;
  });
  $('claims').textContent = `{\n${lines.join('\n')}\n}`;
}

function startLogin(socket) {
  const out = $('login-result');
  on(socket, 'authenticate', () => {
    showClaims(socket);
    log('ok', `signed in: token for ${socket.authToken && socket.authToken.username}`);
  });
  on(socket, 'deauthenticate', () => {
    showClaims(socket);
    log('info', 'signed out: token removed');
  });
  $('login-form').onsubmit = async (e) => {
    e.preventDefault();
    const channels = $('claim-channels').value.split(',').map((c) => c.trim()).filter(Boolean);
    const data = {username: $('username').value.trim(), role: $('role').value, channels};
    try {
      await socket.invoke('login', data);
      result(out, 'ok', `logged in as ${data.username}`);
    } catch (error) {
      result(out, 'err', `login refused: ${errorText(error)}`);
      log('err', `login: ${errorText(error)}`);
    }
  };
  $('logout-button').onclick = async () => {
    try {
      await socket.invoke('logout');
      result(out, 'ok', 'logged out');
    } catch (error) {
      result(out, 'err', `logout failed: ${errorText(error)}`);
    }
  };
}

function startPing(socket) {
  const out = $('ping-result');
  // The ping plugin publishes its count on `pong` for every ping it answers.
  const pong = socket.subscribe('pong');
  (async () => {
    for await (const count of pong) {
      $('pong-count').textContent = show(count);
      log('in', `pong: ${show(count)}`);
    }
  })();
  let sent = 0;
  $('ping-button').onclick = async () => {
    const data = {ping: ++sent};
    const started = performance.now();
    try {
      const ack = await socket.invoke('ping', data);
      const ms = (performance.now() - started).toFixed(1);
      result(out, 'ok', `acknowledged in ${ms} ms: ${show(ack)}`);
    } catch (error) {
      result(out, 'err', `ping failed: ${errorText(error)}`);
    }
  };
}

main();
