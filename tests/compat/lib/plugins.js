'use strict';
// Starts the real `scgate` binary with WebAssembly plugins from ../../plugins/dist/ (the
// test/plugins-*.test.js files; the other files use the `embedded` example, see server.js).
//
// SCGATE_SERVE_BIN names the binary (default ../../target/release/scgate, relative to
// tests/compat; a relative value is taken relative to the current directory, which is
// tests/compat under run.sh). Each server gets a fresh temp dir holding copies of the plugins
// it needs and an scgate.toml with a `[plugins.NAME]` table (`wasi = true`, plus any config)
// per plugin, and is started as
//   scgate serve --host 127.0.0.1 --port 0 --protocol P --ping-interval-ms 1000 --ping-timeout-ms 3000
//                --public-dir "" --plugins-dir DIR --config DIR/scgate.toml
// The temp dir is removed when the server stops.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {startServer, serverPool} = require('./server');

const COMPAT_DIR = path.resolve(__dirname, '..');
const DIST_DIR = path.resolve(COMPAT_DIR, '../../plugins/dist');
const DEFAULT_SERVE_BIN = path.resolve(COMPAT_DIR, '../../target/release/scgate');

// Plugin name (file stem, and the name of its [plugins.NAME] table) -> file under plugins/dist/.
const PLUGIN_FILES = {
  ping: 'ping.wasm',
  'demo-login': 'demo-login.wasm',
  'access-control': 'access-control.wasm',
  'host-calls': 'fixtures/host-calls.wasm',
};

function serveBin() {
  return process.env.SCGATE_SERVE_BIN ? path.resolve(process.env.SCGATE_SERVE_BIN) : DEFAULT_SERVE_BIN;
}

function pluginFile(name) {
  const rel = PLUGIN_FILES[name];
  if (!rel) throw new Error(`unknown plugin ${name} (known: ${Object.keys(PLUGIN_FILES).join(', ')})`);
  return path.join(DIST_DIR, rel);
}

function pluginBuilt(name) {
  return fs.existsSync(pluginFile(name));
}

// For `it(..., {skip: skipUnlessBuilt('host-calls')})`: false when built, else the skip message.
function skipUnlessBuilt(...names) {
  const missing = names.filter((n) => !pluginBuilt(n));
  if (!missing.length) return false;
  return `plugin(s) not built: ${missing.map((n) => path.relative(COMPAT_DIR, pluginFile(n))).join(', ')} ` +
    '(run plugins/build.sh)';
}

// One TOML value from a JSON-like value (strings, numbers, booleans, arrays of those).
function tomlValue(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  throw new Error(`no TOML form for ${JSON.stringify(v)}`);
}

function tomlFor(plugins, config) {
  const lines = ['# written by tests/compat/lib/plugins.js'];
  for (const name of plugins) {
    lines.push('', `[plugins.${name}]`, 'wasi = true');
    for (const [k, v] of Object.entries(config[name] || {})) lines.push(`${k} = ${tomlValue(v)}`);
  }
  return lines.join('\n') + '\n';
}

const tempDirs = new Set();
process.on('exit', () => {
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, {recursive: true, force: true});
    } catch (e) {
      // best effort
    }
  }
});

// Starts scgate with `plugins` (names of PLUGIN_FILES); `config` maps a plugin name to extra keys
// of its [plugins.NAME] table. Resolves with the server (see server.js) once it is READY.
async function startPluginServer({protocol = 'auto', plugins, config = {}, extraArgs = []} = {}) {
  for (const name of plugins) {
    if (!pluginBuilt(name)) {
      throw new Error(`plugin ${name} is not built: ${pluginFile(name)} is missing (run plugins/build.sh)`);
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scgate-compat-plugins-'));
  tempDirs.add(dir);
  const cleanup = () => {
    fs.rmSync(dir, {recursive: true, force: true});
    tempDirs.delete(dir);
  };
  let server;
  try {
    for (const name of plugins) fs.copyFileSync(pluginFile(name), path.join(dir, `${name}.wasm`));
    const configFile = path.join(dir, 'scgate.toml');
    fs.writeFileSync(configFile, tomlFor(plugins, config));
    server = await startServer({
      protocol,
      bin: serveBin(),
      binHint: 'set SCGATE_SERVE_BIN, or build it with `cargo build --release --bin scgate`',
      extraArgs: ['--public-dir', '', '--plugins-dir', dir, '--config', configFile, ...extraArgs],
    });
  } catch (err) {
    cleanup();
    throw err;
  }
  server.plugins = [...plugins];
  const stop = server.stop.bind(server);
  server.stop = async () => {
    try {
      return await stop();
    } finally {
      cleanup();
    }
  };
  return server;
}

// A serverPool (server.js) whose servers run `plugins`; one per protocol for a test file.
function pluginServerPool({plugins, config = {}}) {
  return serverPool({start: ({protocol, extraArgs}) => startPluginServer({protocol, plugins, config, extraArgs})});
}

module.exports = {
  PLUGIN_FILES, serveBin, pluginFile, pluginBuilt, skipUnlessBuilt, startPluginServer, pluginServerPool,
};
