// What the `access-control` middleware plugin blocks, tried live: each row does one thing the
// plugin's rules (plugins/access-control, its default config) refuse, or allow with the right
// token, and shows the gateway's answer: allowed, or the error name and message.

import {$, el, on, log, errorText} from './ui.js';

// How long a try waits for the gateway's answer before calling it lost.
const TRY_TIMEOUT_MS = 5000;

const TRIES = [
  {
    id: 'subscribe-forbidden',
    action: 'Subscribe to forbidden',
    rule: 'a channel in its forbidden list',
    run: (socket) => trySubscribe(socket, 'forbidden'),
  },
  {
    id: 'subscribe-private',
    action: 'Subscribe to private/team',
    rule: 'private/ channels need role admin, or the channel in the token’s channels: log in first',
    run: (socket) => trySubscribe(socket, 'private/team'),
  },
  {
    id: 'publish-blocked',
    action: 'Publish to blocked',
    rule: 'a channel in its blocked_publish list',
    run: (socket) => socket.invokePublish('blocked', 'hello'),
  },
  {
    id: 'emit-forbidden',
    action: 'Invoke forbiddenEvent',
    rule: 'an event in its blocked_events list: stopped before any handler',
    run: (socket) => socket.invoke('forbiddenEvent', {}),
  },
  {
    id: 'publish-news',
    action: 'Publish to news',
    rule: 'an ordinary channel: allowed',
    run: (socket) => socket.invokePublish('news', 'allowed by access-control'),
  },
];

// Subscribes to `name` and resolves once the gateway accepted it, or rejects with its error.
// A channel the page did not hold before is let go again afterwards.
function trySubscribe(socket, name) {
  const held = socket.getChannelState(name) !== 'unsubscribed';
  if (held && socket.isSubscribed(name)) return Promise.resolve();
  const channel = socket.subscribe(name);
  return new Promise((resolve, reject) => {
    const done = (fn, value) => {
      if (!held) {
        channel.unsubscribe();
        channel.close();
      }
      fn(value);
    };
    (async () => {
      for await (const event of channel.listener('subscribe')) return done(resolve, event);
    })();
    (async () => {
      for await (const {error} of channel.listener('subscribeFail')) return done(reject, error);
    })();
  });
}

function withTimeout(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TRY_TIMEOUT_MS / 1000} s`)), TRY_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function startAccessTries(socket) {
  const list = $('tries');
  const rows = TRIES.map((item) => {
    const button = el('button', 'quiet', item.action);
    button.type = 'button';
    const outcome = el('span', 'outcome', 'not tried');
    const row = el('li', '', [button, el('span', 'rule', item.rule), outcome]);
    row.dataset.try = item.id;
    const run = async () => {
      row.classList.remove('stale');
      outcome.className = 'outcome';
      outcome.textContent = '…';
      try {
        await withTimeout(item.run(socket));
        row.dataset.outcome = 'allowed';
        outcome.className = 'outcome ok';
        outcome.textContent = 'allowed';
        log('ok', `${item.action}: allowed`);
      } catch (error) {
        row.dataset.outcome = 'blocked';
        row.dataset.error = error.name || '';
        outcome.className = 'outcome err';
        outcome.replaceChildren(el('b', '', error.name || 'Error'), el('span', '', error.message || ''));
        log('err', `${item.action}: ${errorText(error)}`);
      }
    };
    button.onclick = run;
    return {row, run};
  });
  list.replaceChildren(...rows.map((r) => r.row));
  $('try-all').onclick = async () => {
    for (const {run} of rows) await run();
  };
  // A new token changes what is allowed: the outcomes shown may be stale.
  const stale = () => {
    for (const {row} of rows) row.classList.toggle('stale', Boolean(row.dataset.outcome));
  };
  on(socket, 'authenticate', stale);
  on(socket, 'deauthenticate', stale);
}
