'use strict';
// The sample page in a real browser: headless Chromium loads public/ from a real
// `scgate serve --dev` with the sample plugins, and does what a developer would in their
// first five minutes. Every wait is on a condition in the page, never a fixed sleep.

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {startGateway, TARGET} = require('../lib/gateway');
const {launch, openPage} = require('../lib/browser');

// Ordinary page steps: a round trip through the gateway and a re-render.
const STEP_MS = 10000;
// The hot reload waits for `cargo build` of the edited ping plugin: seconds when its
// dependencies are built (target/plugin-template), about a minute on a fresh clone.
const BUILD_MS = 240000;
// The page must show a new plugin version within a second of the gateway installing it.
const SHOW_RELOAD_MS = 1000;
// How often the test itself reads the gateway's status while waiting for the new version.
const STATUS_POLL_MS = 50;

const SHOTS = path.join(TARGET, 'browser');

let gateway;
let browser;

before(async () => {
  gateway = await startGateway();
  browser = await launch();
  fs.mkdirSync(SHOTS, {recursive: true});
});

after(async () => {
  await browser?.close();
  await gateway?.stop();
});

// The gateway's own report of plugin `name` (what the page polls).
async function gatewayStatus(name) {
  const report = await (await fetch(new URL('status/plugins', gateway.url))).json();
  return report.plugins.find((p) => p.name === name);
}

async function text(page, selector) {
  return (await page.locator(selector).textContent()).trim();
}

test('the sample page does everything in a real browser, with no console error', async () => {
  const {page, problems} = await openPage(browser, {viewport: {width: 1280, height: 900}});
  page.setDefaultTimeout(STEP_MS);
  const fail = (what) => `${what}\nproblems: ${problems.join('\n') || 'none'}\n${gateway.tail()}`;

  // Loads and connects, with the real socketcluster-client 20.
  await page.goto(gateway.url);
  await page.locator('#conn[data-state=open]').waitFor();
  assert.match(await text(page, '#socket-id'), /\S{6,}/, fail('no socket id'));
  assert.match(await text(page, '#client-version'), /^20\./);

  // Logs in with the login plugin; the token's claims show.
  await page.fill('#username', 'ada');
  await page.selectOption('#role', 'user');
  await page.fill('#claim-channels', 'private/team');
  await page.click('#login-button');
  await page.waitForFunction(() => document.getElementById('claims').textContent.includes('"username": "ada"'));
  const claims = await text(page, '#claims');
  assert.match(claims, /"role": "user"/, claims);
  assert.match(claims, /"private\/team"/, claims);
  assert.match(await text(page, '#auth-state'), /yes, as ada/);

  // Subscribes (news at start, room-1 by hand), publishes and receives its own message.
  await page.fill('#channel', 'room-1');
  await page.click('#subscribe-form button[type=submit]');
  await page.locator('#subscriptions [data-channel="room-1"][data-state=subscribed]').waitFor();
  await page.locator('#subscriptions [data-channel=news][data-state=subscribed]').waitFor();
  await page.fill('#publish-channel', 'room-1');
  await page.fill('#message', '{"text":"hello from the browser test"}');
  await page.click('#publish-form button[type=submit]');
  await page.locator('#messages li[data-channel="room-1"]', {hasText: 'hello from the browser test'}).waitFor();

  // Pings: the ack comes back, and the plugin's count arrives on `pong`.
  await page.click('#ping-button');
  await page.locator('#ping-result.ok').waitFor();
  assert.match(await text(page, '#ping-result'), /"ping":1/);
  await page.waitForFunction(() => Number(document.getElementById('pong-count').textContent) >= 1);

  // What access-control blocks, with its error names; what it lets through.
  await page.click('#try-all');
  const outcome = (id) => page.locator(`#tries [data-try=${id}][data-outcome]`);
  const expected = {
    'subscribe-forbidden': ['blocked', 'SubscribeBlockedError'],
    'subscribe-private': ['allowed', undefined],
    'publish-blocked': ['blocked', 'PublishBlockedError'],
    'emit-forbidden': ['blocked', 'EmitBlockedError'],
    'publish-news': ['allowed', undefined],
  };
  for (const [id, [result, error]] of Object.entries(expected)) {
    await outcome(id).waitFor();
    assert.equal(await outcome(id).getAttribute('data-outcome'), result, fail(`${id}: ${await text(page, `#tries [data-try=${id}]`)}`));
    if (error) assert.equal(await outcome(id).getAttribute('data-error'), error);
  }
  assert.match(await text(page, '#tries [data-try=publish-blocked] .outcome'), /PublishBlockedError/);

  // The live plugin status: every sample plugin is live, with its version and call count.
  for (const name of ['ping', 'demo-login', 'access-control']) {
    await page.locator(`#plugin-list [data-plugin="${name}"] .badge.live`).waitFor();
  }
  await page.waitForFunction(() => Number(document.querySelector('#plugin-list [data-plugin=ping]').dataset.calls) >= 1);
  const before = await page.locator('#plugin-list [data-plugin=ping]').getAttribute('data-version');
  assert.equal(before, (await gatewayStatus('ping')).version);

  // Hot reload: edit the plugin's source as a developer would and save. The gateway rebuilds
  // it; the page shows the new version within a second of the gateway having it.
  const lib = gateway.file('src/ping/src/lib.rs');
  const source = fs.readFileSync(lib, 'utf8');
  const edited = source.replace('Ok(data)', 'Ok(Some(format!("{{\\"pong\\":{count}}}")))');
  assert.notEqual(edited, source, 'plugins/ping/src/lib.rs changed: update this edit');
  fs.writeFileSync(lib, edited);
  const shown = page.waitForFunction(
    (old) => {
      const version = document.querySelector('#plugin-list [data-plugin=ping]')?.dataset.version;
      return version && version !== old ? Date.now() : false;
    },
    before,
    {timeout: BUILD_MS, polling: STATUS_POLL_MS},
  );
  let installedAt;
  for (const deadline = Date.now() + BUILD_MS; Date.now() < deadline;) {
    const status = await gatewayStatus('ping');
    if (status.version && status.version !== before) {
      installedAt = Date.now();
      break;
    }
    assert.ok(!status.last_error?.message?.startsWith('build failed'), fail(`build failed: ${status.last_error?.message}`));
    await new Promise((resolve) => setTimeout(resolve, STATUS_POLL_MS));
  }
  assert.ok(installedAt, fail('the edited plugin never went live'));
  const shownAt = await (await shown).jsonValue();
  const lag = shownAt - installedAt;
  assert.ok(lag < SHOW_RELOAD_MS, fail(`the page showed the new version ${Math.round(lag)} ms after the gateway had it`));
  await page.locator('#plugin-list [data-plugin=ping] .badge.reloaded').waitFor();

  // The same socket, never dropped, now runs the new code: a fresh instance acks with its count.
  await page.click('#ping-button');
  await page.waitForFunction(() => /"pong":\d+/.test(document.getElementById('ping-result').textContent));
  assert.match(await text(page, '#conn-text'), /connected/);

  await page.screenshot({path: path.join(SHOTS, 'sample-page.png'), fullPage: true});
  assert.deepEqual(problems, [], fail('the page had problems'));
  console.log(`hot reload: shown ${Math.round(lag)} ms after the gateway installed it; screenshots in ${SHOTS}`);
});

test('the page works at phone width', async () => {
  const {page, problems, context} = await openPage(browser, {
    viewport: {width: 390, height: 844},
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  page.setDefaultTimeout(STEP_MS);
  await page.goto(gateway.url);
  await page.locator('#conn[data-state=open]').waitFor();
  await page.locator('#plugin-list [data-plugin=ping]').waitFor();
  await page.click('#ping-button');
  await page.locator('#ping-result.ok').waitFor();
  // Nothing wider than the screen: no sideways scrolling.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone screen`);
  await page.screenshot({path: path.join(SHOTS, 'sample-page-phone.png'), fullPage: true});
  assert.deepEqual(problems, []);
  await context.close();
});
