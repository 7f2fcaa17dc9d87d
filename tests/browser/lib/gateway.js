'use strict';
// A real `scgate serve --dev` for the page test, in a temp folder laid out like the repository:
//   dist/      copies of plugins/dist/{ping,demo-login,access-control}.wasm (plugins_dir)
//   src/       a cargo workspace with a copy of plugins/ping (dev_src): the test edits it
//   wit/       a copy of wit/ (the ping crate reads ../../wit)
//   scgate.toml
// The repository's own files are never edited. The sample page is served from the repository's
// public/. Cargo builds into target/plugin-template, which tests/cli.rs and tests/reload.rs
// already fill with the same dependencies.

const {spawn} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../../..');
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const READY_RE = /scgate READY listening on http:\/\/127\.0\.0\.1:(\d+)/;
// A debug binary starts in about a second; leave room for a loaded 2-core machine.
const READY_TIMEOUT_MS = 30000;
// After SIGTERM the gateway drains (shutdown grace) and exits; past this it gets SIGKILL.
const KILL_AFTER_MS = 5000;
// How much of the gateway's output is kept for error messages.
const TAIL_CHARS = 12000;

const PLUGINS = ['ping', 'demo-login', 'access-control'];

function layout(dir) {
  fs.mkdirSync(path.join(dir, 'dist'));
  for (const name of PLUGINS) {
    const file = path.join(ROOT, 'plugins/dist', `${name}.wasm`);
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run plugins/build.sh`);
    fs.copyFileSync(file, path.join(dir, 'dist', `${name}.wasm`));
  }
  const src = path.join(dir, 'src');
  fs.cpSync(path.join(ROOT, 'plugins/ping'), path.join(src, 'ping'), {
    recursive: true,
    filter: (from) => !from.includes(`${path.sep}target`),
  });
  // The plugins workspace's manifest (shared package fields, profile), with ping its only member.
  const manifest = fs.readFileSync(path.join(ROOT, 'plugins/Cargo.toml'), 'utf8');
  const only = manifest.replace(/members = \[[^\]]*\]/, 'members = ["ping"]');
  if (only === manifest) throw new Error('plugins/Cargo.toml has no `members = [...]`: update lib/gateway.js');
  fs.writeFileSync(path.join(src, 'Cargo.toml'), only);
  fs.copyFileSync(path.join(ROOT, 'plugins/Cargo.lock'), path.join(src, 'Cargo.lock'));
  fs.cpSync(path.join(ROOT, 'wit'), path.join(dir, 'wit'), {recursive: true});
  const tables = PLUGINS.map((name) => `[plugins.${name}]\nwasi = true\n`).join('\n');
  fs.writeFileSync(path.join(dir, 'scgate.toml'), [
    '# written by tests/browser/lib/gateway.js',
    'plugins_dir = "dist"',
    'dev_src = "src"',
    `public_dir = ${JSON.stringify(path.join(ROOT, 'public'))}`,
    `plugin_cache_dir = ${JSON.stringify(path.join(dir, 'cache'))}`,
    '',
    tables,
  ].join('\n'));
}

// Starts the gateway; resolves with {url, dir, stop(), tail(), file(rel)} once it is READY.
async function startGateway() {
  const bin = process.env.SCGATE_SERVE_BIN;
  if (!bin || !fs.existsSync(bin)) throw new Error(`scgate binary not found: ${bin} (cargo build --bin scgate)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scgate-browser-'));
  layout(dir);
  const child = spawn(bin, ['serve', '--config', 'scgate.toml', '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--dev'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...process.env, NO_COLOR: '1', CARGO_TARGET_DIR: path.join(TARGET, 'plugin-template')},
  });
  let output = '';
  const append = (chunk) => {
    output = (output + chunk.toString()).slice(-TAIL_CHARS);
  };
  child.stderr.on('data', append);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({code, signal})));
  const tail = () => `---- last output of scgate (in ${dir}) ----\n${output}\n----`;
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY line within ${READY_TIMEOUT_MS} ms\n${tail()}`)), READY_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      append(chunk);
      const m = READY_RE.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then((info) => {
      clearTimeout(timer);
      reject(new Error(`scgate exited before READY: ${JSON.stringify(info)}\n${tail()}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    dir,
    tail,
    file: (rel) => path.join(dir, rel),
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
      await exited;
      clearTimeout(killer);
      fs.rmSync(dir, {recursive: true, force: true});
    },
  };
}

module.exports = {startGateway, ROOT, TARGET};
