'use strict';
// `scgate new-plugin` end to end, in every language it offers (rust, python, js, c): scaffold a
// project, build it with the commands its generated README gives (the first block of its
// Build section), check it with the README's
// `scgate check-plugin` line, load it into `scgate serve` with the README's [plugins.NAME]
// table, and invoke its event from the real socketcluster-client 20. The README is read, not
// restated here, so the test keeps following the templates when they change.
//
// The toolchains are the ones scripts/guests.sh and plugins/build.sh installed, never a second
// copy: the README's install lines are checked against them instead of run (apt packages
// installed, rustup target present, the npm packages' versions the same as plugins/js's), the
// Python build finds componentize-py on PATH (plugins/python/.venv/bin), a JS project gets
// plugins/js/node_modules, and a Rust project builds into target/plugin-template (shared with
// tests/cli.rs) with the sample plugins' Cargo.lock.

const {describe, it, after} = require('node:test');
const assert = require('node:assert/strict');
const {execFileSync} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {startServer} = require('../lib/server');
const {serveBin} = require('../lib/plugins');
const {connectClient} = require('../lib/clients');
const {sections, shellLines, firstShellLines, tomlBlocks} = require('../lib/readme');

const ROOT = path.resolve(__dirname, '../../..');
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
// A build of a Python or JS project runs its toolchain for tens of seconds on this machine, and
// its first check compiles an 18 MB component; the rest takes seconds.
const LANGUAGE_MS = 300000;
// Each language's one command: a generous bound, so a hung toolchain fails the test.
const COMMAND_MS = 240000;

const LANGUAGES = ['rust', 'python', 'js', 'c'];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'scgate-new-plugin-'));
// Compiled components, shared by check-plugin and serve (and across runs): Python and JS take
// seconds to compile.
const CACHE = path.join(TARGET, 'new-plugin-cache');
const servers = [];
after(async () => {
  for (const server of servers) await server.stop();
  fs.rmSync(work, {recursive: true, force: true});
});

function run(file, args, {cwd, env = {}} = {}) {
  try {
    return execFileSync(file, args, {
      cwd,
      env: {...process.env, ...env},
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: COMMAND_MS,
    });
  } catch (e) {
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n--- stdout\n${e.stdout}\n--- stderr\n${e.stderr}`);
  }
}

// The environment every README command runs in: the guest toolchains of scripts/guests.sh first
// on PATH, and the shared compiled-component cache.
function toolEnv() {
  const venv = path.join(ROOT, 'plugins/python/.venv/bin');
  return {PATH: `${venv}${path.delimiter}${process.env.PATH}`, SCGATE_PLUGIN_CACHE_DIR: CACHE};
}

// What the test does for a README line that installs a toolchain: checks that what it would
// install is there (scripts/guests.sh and plugins/build.sh installed it). Returns false for a
// line that is not an install, to be run as written.
function installed(line, project) {
  const words = line.split(/\s+/).filter((w) => w !== 'sudo');
  if (words[0] === 'apt-get' && words[1] === 'install') {
    const packages = words.slice(2).filter((w) => !w.startsWith('-'));
    run('dpkg-query', ['-W', ...packages]);
    return true;
  }
  if (words[0] === 'rustup' && words[1] === 'target' && words[2] === 'add') {
    const have = run('rustup', ['target', 'list', '--installed']).split('\n');
    for (const target of words.slice(3)) assert.ok(have.includes(target), `rustup target ${target} is not installed`);
    return true;
  }
  if (words[0] === 'npm' && (words[1] === 'install' || words[1] === 'ci') && words.length === 2) {
    // The project's devDependencies, as plugins/js pinned and installed them.
    const shared = path.join(ROOT, 'plugins/js/node_modules');
    const wanted = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')).devDependencies || {};
    for (const [name, version] of Object.entries(wanted)) {
      const have = JSON.parse(fs.readFileSync(path.join(shared, name, 'package.json'), 'utf8')).version;
      assert.equal(have, version, `the template wants ${name}@${version}; plugins/js has ${have}: update one`);
    }
    fs.symlinkSync(shared, path.join(project, 'node_modules'));
    return true;
  }
  return false;
}

// `scgate new-plugin NAME --lang LANG` in a fresh folder; returns the project folder.
function scaffold(lang, name) {
  const project = path.join(work, name);
  const steps = run(serveBin(), ['new-plugin', name, '--lang', lang, '--dir', project]);
  assert.match(steps, new RegExp(`\\[plugins\\.${name}\\]`), steps);
  if (lang === 'rust') {
    // Builds reuse the compiled wit-bindgen of target/plugin-template: the same dependency
    // versions (the sample plugins' lock file; cargo drops what the project does not use) and
    // that folder as the project's target/, where the README expects the component.
    fs.copyFileSync(path.join(ROOT, 'plugins/Cargo.lock'), path.join(project, 'Cargo.lock'));
    const shared = path.join(TARGET, 'plugin-template');
    fs.mkdirSync(shared, {recursive: true});
    fs.symlinkSync(shared, path.join(project, 'target'));
  }
  return project;
}

// Runs the first command block of the README's Build section (later blocks are for other
// occasions, such as regenerating the C bindings after a WIT change); returns the commands run.
function build(project, readme) {
  const section = readme.find((s) => /^build/i.test(s.title));
  assert.ok(section, 'the README has no Build section');
  const lines = firstShellLines(section.body);
  assert.ok(lines.length, 'the README Build section has no commands');
  for (const line of lines) {
    if (!installed(line, project)) run('bash', ['-c', line], {cwd: project, env: toolEnv()});
  }
  return lines;
}

// Runs the README's `scgate check-plugin` line(s) with this build's scgate; returns the events
// the plugin registers, as check-plugin reports them.
function check(project, readme) {
  const lines = readme.flatMap((s) => shellLines(s.body)).filter((l) => l.startsWith('scgate check-plugin'));
  assert.ok(lines.length, 'the README gives no `scgate check-plugin` command');
  let events = [];
  for (const line of lines) {
    const args = line.split(/\s+/).slice(1);
    const report = run(serveBin(), args, {cwd: project, env: {...toolEnv(), RUST_LOG: 'warn'}});
    const field = report.split('\n').find((l) => l.startsWith('events'));
    events = field ? field.replace(/^events\s*/, '').split(/,\s*/).filter(Boolean) : [];
  }
  assert.ok(events.length, 'check-plugin reports no events');
  return events;
}

// The README's [plugins.NAME] table, with its placeholder path made the project's real one.
function pluginTable(project, name, readme) {
  const table = readme.flatMap((s) => tomlBlocks(s.body)).find((b) => b.includes(`[plugins.${name}]`));
  assert.ok(table, `the README gives no [plugins.${name}] table`);
  assert.ok(table.includes(`path/to/${name}/`), `the README's table has no path/to/${name}/ placeholder:\n${table}`);
  return table.replaceAll(`path/to/${name}/`, `${project}/`);
}

describe('new-plugin: scaffold, build as the README says, check, serve, invoke', () => {
  for (const lang of LANGUAGES) {
    it(lang, {timeout: LANGUAGE_MS}, async (t) => {
      const name = `hello-${lang}`;
      const started = Date.now();
      const project = scaffold(lang, name);
      const readme = sections(fs.readFileSync(path.join(project, 'README.md'), 'utf8'));
      const commands = build(project, readme);
      const built = Date.now();
      const events = check(project, readme);
      const checked = Date.now();
      t.diagnostic(`${lang}: built (${commands.join('; ')}) in ${built - started} ms, checked in ${checked - built} ms`);

      const config = path.join(project, 'scgate-test.toml');
      fs.writeFileSync(config, `plugin_cache_dir = ${JSON.stringify(CACHE)}\n${pluginTable(project, name, readme)}`);
      const server = await startServer({
        protocol: '2',
        bin: serveBin(),
        extraArgs: ['--config', config, '--public-dir', '', '--plugins-dir', '', '--plugins-watch', 'false'],
      });
      servers.push(server);
      const client = await connectClient(t, 'v20', server.port);
      for (const event of events) {
        const data = {hello: lang};
        const reply = await client.invoke(event, data);
        t.diagnostic(`${lang}: ${event}(${JSON.stringify(data)}) -> ${JSON.stringify(reply)}`);
      }
      await server.stop();
      servers.splice(servers.indexOf(server), 1);
    });
  }
});
