'use strict';
// Starts a real redis-server (no persistence) on a free port for the cluster tests, and stops
// it again. scripts/test.sh installs redis-server; a missing binary fails the test with a hint.

const {spawn} = require('node:child_process');
const net = require('node:net');

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

function answers(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(String(d).startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
  });
}

// Resolves with {url, stop()} once the server answers PING.
async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no'], {stdio: 'ignore'});
  let failed = null;
  child.once('error', (err) => {
    failed = new Error(`cannot start redis-server (scripts/test.sh installs it): ${err.message}`);
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await answers(port))) {
    if (failed) throw failed;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise((r) => child.once('exit', r));
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

module.exports = {startRedis};
