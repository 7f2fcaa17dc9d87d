// The live plugin status: polls GET /status/plugins (the gateway's report without file paths,
// answered when `public_plugin_status` or dev mode is on) and shows each plugin's state,
// version, live since, calls and errors; a new version (a hot reload) is flagged as it lands.

import {$, el, log, since, clock} from './ui.js';

// Poll period: a reloaded plugin shows within about half a second, while the cost stays one
// small in-memory report per poll.
const POLL_MS = 500;
// After a failed poll (gateway restarting, network), try again less often.
const RETRY_MS = 3000;
// How long a freshly reloaded plugin stays highlighted.
const FLASH_MS = 4000;
// Characters of the version hash shown (the full hash is in the tooltip).
const VERSION_CHARS = 12;

const URL = '/status/plugins';

export function startPluginStatus() {
  const versions = new Map(); // plugin name -> {version, changedAt}
  let first = true;

  async function poll() {
    let response;
    try {
      response = await fetch(URL, {cache: 'no-store'});
    } catch (e) {
      setLive('offline');
      return setTimeout(poll, RETRY_MS);
    }
    if (response.status === 404) {
      setLive('off');
      $('plugin-list').replaceChildren(el('li', 'empty', 'This gateway does not publish its plugin status. ' +
        'Run it with public_plugin_status = true (the repository’s scgate.toml) or --dev; operators ' +
        'read GET /plugins on the admin listener.'));
      return undefined;
    }
    if (!response.ok) {
      setLive('offline');
      return setTimeout(poll, RETRY_MS);
    }
    const report = await response.json();
    noteVersions(report.plugins || []);
    render(report.plugins || []);
    setLive('live');
    first = false;
    return setTimeout(poll, document.hidden ? RETRY_MS : POLL_MS);
  }

  function noteVersions(plugins) {
    for (const p of plugins) {
      const known = versions.get(p.name);
      if (known && known.version === p.version) continue;
      versions.set(p.name, {version: p.version, changedAt: first ? 0 : Date.now()});
      if (!first && p.version) {
        log('ok', `plugin ${p.name} reloaded: version ${short(known && known.version)} → ${short(p.version)}`);
      }
    }
  }

  function render(plugins) {
    const list = $('plugin-list');
    if (!plugins.length) {
      list.replaceChildren(el('li', 'empty', 'no plugins loaded'));
      return;
    }
    list.replaceChildren(...plugins.map((p) => row(p, versions.get(p.name))));
  }

  poll();
}

function row(p, seen) {
  const reloaded = seen && seen.changedAt && Date.now() - seen.changedAt < FLASH_MS;
  const version = el('code', 'version', short(p.version));
  version.title = p.version || 'no live version';
  const head = el('div', 'plugin-head', [
    el('strong', 'plugin-name', p.name),
    el('span', `badge ${p.state}`, p.state),
    version,
  ]);
  if (reloaded) head.append(el('span', 'badge reloaded', 'reloaded'));
  const live = el('span', '', `live since ${since(p.live_since)}`);
  if (p.live_since) live.title = new Date(p.live_since).toLocaleString();
  const meta = el('div', 'plugin-meta', [
    live,
    el('span', '', `${p.calls} calls`),
    el('span', p.errors ? 'bad' : '', `${p.errors} errors`),
    el('span', '', `${p.loads} loads`),
  ]);
  const item = el('li', reloaded ? 'plugin flash' : 'plugin', [head, meta, el('div', 'plugin-roles', roles(p))]);
  // A failure after the live version went live (a failed build or load: that version keeps
  // serving); older ones are history.
  const failedSince = p.last_error && (!p.live_since || Date.parse(p.last_error.at) >= Date.parse(p.live_since));
  if (failedSince) {
    const at = p.last_error.at ? clock(new Date(p.last_error.at)) : '';
    item.append(el('div', 'plugin-error', `last load failed ${at}${p.last_error.message ? `: ${p.last_error.message}` : ''}`));
  }
  item.dataset.plugin = p.name;
  item.dataset.version = p.version || '';
  item.dataset.calls = String(p.calls);
  return item;
}

function roles(p) {
  const parts = [];
  if (p.events && p.events.length) parts.push(`handles ${p.events.join(', ')}`);
  if (p.stages && p.stages.length) parts.push(`middleware for ${p.stages.join(', ')}`);
  if (p.lifecycle) parts.push('lifecycle');
  return parts.join(' · ') || 'registers nothing';
}

function short(version) {
  return version ? version.slice(0, VERSION_CHARS) : '–';
}

function setLive(state) {
  const tag = $('plugins-live');
  tag.dataset.state = state;
  tag.textContent = {live: 'live', off: 'not published', offline: 'unreachable'}[state];
}
