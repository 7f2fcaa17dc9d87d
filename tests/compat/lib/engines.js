'use strict';
// Starts a real redis-server (no persistence) or nats-server on a free port for the cluster
// tests, and stops it again. scripts/test.sh installs both; a missing binary fails the test
// with a hint.

const {spawn} = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

// A fresh redis-server accepts connections in milliseconds; leave room for a loaded machine.
const READY_TIMEOUT_MS = 10000;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Whether something answers `probe` on `port` with text starting with `expect`.
function answers(port, probe = 'PING\r\n', expect = '+PONG') {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => probe && sock.write(probe));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(String(d).startsWith(expect));
    });
    sock.once('error', () => resolve(false));
  });
}

// Spawns `bin args`, waits until `ready()` holds; resolves with {stop()}.
async function spawnServer(bin, args, ready) {
  const child = spawn(bin, args, {stdio: 'ignore'});
  let failed = null;
  child.once('error', (err) => {
    failed = new Error(`cannot start ${bin} (scripts/test.sh installs it): ${err.message}`);
  });
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ready())) {
    if (failed) throw failed;
    if (Date.now() > deadline) throw new Error(`${bin} ${args.join(' ')} did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

// Resolves with {url, stop()} once redis-server answers PING.
async function startRedis() {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const server = await spawnServer('redis-server', args, () => answers(port));
  return {url: `redis://127.0.0.1:${port}`, stop: () => server.stop()};
}

// Resolves with {url, stop()} once nats-server (with JetStream, for the plugin KV, stored in a
// temporary folder) sends its INFO line.
async function startNats() {
  const port = await freePort();
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'scgate-compat-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store];
  const server = await spawnServer('nats-server', args, () => answers(port, null, 'INFO'));
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      await server.stop();
      fs.rmSync(store, {recursive: true, force: true});
    },
  };
}

module.exports = {startRedis, startNats};
