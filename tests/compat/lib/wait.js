'use strict';
// Bounded waiting on recorded events. Every client, raw probe and server in this suite pushes
// what it observes into a Recorder; tests wait for an entry (with a deadline and a message that
// shows what *was* seen) instead of sleeping and then asserting.

const util = require('node:util');

const DEFAULT_TIMEOUT_MS = 5000;

function short(value, max = 240) {
  let text;
  if (typeof value === 'string') {
    text = JSON.stringify(value);
  } else {
    try {
      text = JSON.stringify(value, (key, v) => (v instanceof Error ? errorSummary(v) : v));
    } catch (e) {
      text = util.inspect(value, {depth: 3});
    }
    if (text === undefined) text = String(value);
  }
  return text.length > max ? text.slice(0, max) + `…(${text.length} chars)` : text;
}

function errorSummary(err) {
  const out = {name: err.name, message: err.message};
  for (const k of Object.keys(err)) out[k] = err[k];
  return out;
}

// Hooks that add context (for example "the server process died") to timeout messages.
const diagnosticHooks = [];
function addDiagnosticHook(fn) {
  diagnosticHooks.push(fn);
}
function extraDiagnostics() {
  const parts = [];
  for (const fn of diagnosticHooks) {
    try {
      const text = fn();
      if (text) parts.push(text);
    } catch (e) {
      parts.push(`(diagnostic hook failed: ${e.message})`);
    }
  }
  return parts.length ? '\n' + parts.join('\n') : '';
}

class Recorder {
  constructor(label) {
    this.label = label;
    this.events = [];
    this.start = Date.now();
    this._waiters = new Set();
  }

  push(name, data) {
    const ev = {name, data, t: Date.now(), i: this.events.length};
    this.events.push(ev);
    for (const w of [...this._waiters]) w();
    return ev;
  }

  // Index to pass as `since` so that only later entries count.
  mark() {
    return this.events.length;
  }

  // `name` may be one name or an array of names.
  all(name, {since = 0, filter} = {}) {
    const names = Array.isArray(name) ? name : [name];
    return this.events.filter((e, i) => i >= since && names.includes(e.name) && (!filter || filter(e.data, e)));
  }

  count(name, opts) {
    return this.all(name, opts).length;
  }

  summary(maxEvents = 30) {
    const evs = this.events.slice(-maxEvents);
    const lines = evs.map((e) => `  +${e.t - this.start}ms #${e.i} ${e.name} ${short(e.data)}`);
    const skipped = this.events.length - evs.length;
    return `${this.label}: ${this.events.length} event(s) recorded${skipped ? ` (first ${skipped} not shown)` : ''}` +
      (lines.length ? '\n' + lines.join('\n') : '');
  }

  // Resolves with the `count`-th matching entry list once `count` entries named `name`
  // (and passing `filter`) exist at index >= `since`; rejects after `timeout` ms.
  waitForCount(name, count, {since = 0, filter, timeout = DEFAULT_TIMEOUT_MS, what} = {}) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.all(name, {since, filter});
        if (found.length >= count) {
          cleanup();
          resolve(found.slice(0, count));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        const got = this.count(name, {since, filter});
        reject(new Error(
          `${this.label}: timed out after ${timeout} ms waiting for ${what || JSON.stringify(name)}` +
          `${count > 1 ? ` (${count} wanted, ${got} seen)` : ''}\n${this.summary()}${extraDiagnostics()}`));
      }, timeout);
      const cleanup = () => {
        clearTimeout(timer);
        this._waiters.delete(check);
      };
      this._waiters.add(check);
      check();
    });
  }

  async waitFor(name, opts = {}) {
    const [ev] = await this.waitForCount(name, 1, opts);
    return ev;
  }

  // Asserts that no entry named `name` (and passing filter) exists at index >= since.
  assertNone(name, {since = 0, filter, what} = {}) {
    const found = this.all(name, {since, filter});
    if (found.length) {
      throw new Error(`${this.label}: expected no ${what || JSON.stringify(name)} but saw ${found.length}: ` +
        found.slice(0, 5).map((e) => short(e.data)).join(', ') + `\n${this.summary()}`);
    }
  }
}

// Rejects with a clear message if `promise` has not settled within `ms`.
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}${extraDiagnostics()}`)), ms);
    }),
  ]);
}

// A deliberate pause, only for the quiet periods that a negative assertion needs
// ("no reconnect happens", "idle for 12 s"), never to wait for something that can be awaited.
function quietPeriod(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Awaits a promise that is expected to reject; returns the error.
async function rejection(promise, what) {
  try {
    const value = await promise;
    throw Object.assign(new Error(`expected ${what} to fail, but it resolved with ${short(value)}`), {unexpectedResolve: true});
  } catch (err) {
    if (err && err.unexpectedResolve) throw err;
    return err;
  }
}

module.exports = {Recorder, withTimeout, quietPeriod, rejection, short, addDiagnosticHook, DEFAULT_TIMEOUT_MS};
