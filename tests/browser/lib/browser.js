'use strict';
// Debian's Chromium (the `chromium` package), headless, driven by playwright-core: no browser
// download, which this machine and CI could not fetch anyway. Every console error, uncaught
// exception and failed request of a page is collected, so a test can fail on any.

const {chromium} = require('playwright-core');

const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
// Running as root needs --no-sandbox; the rest keep Chromium from reaching out to the network
// (refused here, and noise anywhere): no background fetches, component or sync updates, QUIC.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function launch() {
  return chromium.launch({executablePath: EXECUTABLE, headless: true, args: ARGS});
}

// A new page in its own context (`options`: viewport, isMobile, …) whose problems land in `problems`.
async function openPage(browser, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()} (${msg.location().url || 'page'})`);
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.stack || err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  return {page, context, problems};
}

module.exports = {launch, openPage};
