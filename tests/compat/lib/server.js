'use strict';
// Starts the real server binary on a free port and stops it again.
//
// SCGATE_BIN names the binary (default ../../target/release/examples/embedded, relative to
// tests/compat). It is started as
//   SCGATE_BIN serve --host 127.0.0.1 --port 0 --admin-port 0 --protocol P --ping-interval-ms 1000 --ping-timeout-ms 3000 ...extra
// and must print, on stdout, a line `scgate READY listening on http://127.0.0.1:PORT`.
// stdout and stderr are kept (the last part in memory, all of it in logs/) for diagnostics.

const {spawn} = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const {addDiagnosticHook} = require('./wait');

const COMPAT_DIR = path.resolve(__dirname, '..');
const DEFAULT_BIN = path.resolve(COMPAT_DIR, '../../target/release/examples/embedded');
const READY_RE = /scgate READY listening on http:\/\/127\.0\.0\.1:(\d+)\s*$/;
// The heartbeat every test server uses (sc-protocol.md section 16 suggests 1 s / 3 s).
const PING_INTERVAL_MS = 1000;
const PING_TIMEOUT_MS = 3000;
// A release binary starts in well under a second; leave room for a loaded 2-core machine.
const READY_TIMEOUT_MS = 20000;
// After SIGTERM the server drains (shutdown grace) and exits; past this it gets SIGKILL.
const KILL_AFTER_MS = 5000;
// How much of stdout+stderr to keep in memory for error messages.
const TAIL_CHARS = 8000;

function serverBin() {
  return process.env.SCGATE_BIN ? path.resolve(process.env.SCGATE_BIN) : DEFAULT_BIN;
}

function logDir() {
  const dir = process.env.SCGATE_COMPAT_LOG_DIR || path.join(COMPAT_DIR, 'logs');
  fs.mkdirSync(dir, {recursive: true});
  return dir;
}

const running = new Set();

// Tell waits that time out when a server died underneath them.
addDiagnosticHook(() => {
  const dead = [...running].filter((s) => s.exitInfo && !s.stopping);
  return dead.map((s) => `SERVER DIED: ${s.describe()} exited ${JSON.stringify(s.exitInfo)}\n${s.tail()}`).join('\n');
});

// Last resort: never leave a server behind when this test process exits.
process.on('exit', () => {
  for (const s of running) {
    if (!s.exitInfo) {
      try {
        s.child.kill('SIGKILL');
      } catch (e) {
        // already gone
      }
    }
  }
});

class ServerProcess {
  constructor(child, args, logPath) {
    this.child = child;
    this.args = args;
    this.logPath = logPath;
    this.port = null;
    this.exitInfo = null;
    this.stopping = false;
    this._tail = '';
    this._log = fs.createWriteStream(logPath);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = {code, signal};
        resolve(this.exitInfo);
      });
    });
  }

  _append(prefix, chunk) {
    const text = chunk.toString();
    this._log.write(text.replace(/^(?=.)/gm, prefix));
    this._tail = (this._tail + text).slice(-TAIL_CHARS);
  }

  tail() {
    return `---- last output of ${this.describe()} (full log: ${this.logPath}) ----\n${this._tail}\n----`;
  }

  describe() {
    return `server pid ${this.child.pid} [${this.args.join(' ')}]${this.port ? ` on port ${this.port}` : ''}`;
  }

  // Throws (with the server's output) if the process has exited on its own.
  assertAlive() {
    if (this.exitInfo) {
      throw new Error(`${this.describe()} is not running any more: exited ${JSON.stringify(this.exitInfo)}\n${this.tail()}`);
    }
  }

  async stop() {
    const diedEarly = this.exitInfo && !this.stopping ? this.exitInfo : null;
    this.stopping = true;
    if (!this.exitInfo) {
      this.child.kill('SIGTERM');
      const killer = setTimeout(() => {
        if (!this.exitInfo) this.child.kill('SIGKILL');
      }, KILL_AFTER_MS);
      await this.exited;
      clearTimeout(killer);
    }
    running.delete(this);
    await new Promise((resolve) => this._log.end(resolve));
    if (diedEarly) {
      throw new Error(`${this.describe()} exited before the tests stopped it: ${JSON.stringify(diedEarly)}\n${this.tail()}`);
    }
    return this.exitInfo;
  }
}

// Starts a server; resolves with {port, stop(), ...} once its READY line has been read.
// `bin` overrides SCGATE_BIN (lib/plugins.js starts the real `scgate` binary this way), and
// `binHint` says how to get that binary when it is missing.
async function startServer({protocol = 'auto', extraArgs = [], bin = serverBin(), binHint} = {}) {
  if (!fs.existsSync(bin)) {
    throw new Error(`server binary not found: ${bin} (${binHint || 'set SCGATE_BIN, or build it with ' +
      '`cargo build --release --example embedded`'})`);
  }
  // The admin listener on a free port too, so that servers started side by side never share one.
  const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--protocol', String(protocol),
    '--ping-interval-ms', String(PING_INTERVAL_MS), '--ping-timeout-ms', String(PING_TIMEOUT_MS), ...extraArgs];
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {RUST_BACKTRACE: '1', NO_COLOR: '1', ...process.env},
  });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logPath = path.join(logDir(), `${stamp}-p${protocol}-pid${child.pid}.log`);
  const server = new ServerProcess(child, [path.basename(bin), ...args], logPath);
  running.add(server);

  let stdoutBuf = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no READY line within ${READY_TIMEOUT_MS} ms from ${server.describe()}\n${server.tail()}`));
    }, READY_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${server.describe()}: ${err.message}`));
    });
    child.stdout.on('data', (chunk) => {
      server._append('[out] ', chunk);
      if (server.port) return;
      stdoutBuf += chunk.toString();
      const lines = stdoutBuf.split('\n');
      stdoutBuf = lines.pop();
      for (const line of lines) {
        if (!line.includes('READY')) continue;
        const m = READY_RE.exec(line.trim());
        clearTimeout(timer);
        if (!m) {
          reject(new Error(`READY line has an unexpected form: ${JSON.stringify(line)} ` +
            '(wanted "scgate READY listening on http://127.0.0.1:PORT")'));
          return;
        }
        server.port = Number(m[1]);
        resolve();
        return;
      }
    });
    child.stderr.on('data', (chunk) => server._append('[err] ', chunk));
    server.exited.then((info) => {
      clearTimeout(timer);
      if (!server.port) {
        reject(new Error(`${server.describe()} exited before READY: ${JSON.stringify(info)}\n${server.tail()}`));
      }
    });
  });
  try {
    await ready;
  } catch (err) {
    await server.stop().catch(() => {});
    throw err;
  }
  return server;
}

// One server per (protocol, extra args) for a whole test file; `stopAll` in `after()`.
// `start` replaces startServer (same argument and result), e.g. lib/plugins.js's starter.
function serverPool({start = startServer} = {}) {
  const servers = new Map();
  return {
    get(protocol, extraArgs = []) {
      const key = JSON.stringify([String(protocol), extraArgs]);
      if (!servers.has(key)) {
        const p = start({protocol, extraArgs});
        p.catch(() => {}); // reported to every caller of get(); avoid an unhandled rejection
        servers.set(key, p);
      }
      return servers.get(key);
    },
    async stopAll() {
      const errors = [];
      for (const p of servers.values()) {
        let server;
        try {
          server = await p;
        } catch (e) {
          continue; // a start failure was already reported by the tests that needed it
        }
        try {
          await server.stop();
        } catch (e) {
          errors.push(e);
        }
      }
      servers.clear();
      if (errors.length) throw errors.length === 1 ? errors[0] : new AggregateError(errors, errors.map((e) => e.message).join('\n'));
    },
  };
}

module.exports = {startServer, serverPool, serverBin, PING_INTERVAL_MS, PING_TIMEOUT_MS};
