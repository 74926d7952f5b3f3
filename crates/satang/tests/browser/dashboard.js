// The merchant dashboard in a real browser (Debian's Chromium, driven by playwright-core), against a real
// `satang serve` started by crates/satang/tests/dashboard_browser.rs with a user made by `satang user
// create`: log in, find a charge by a metadata value among 100k (seeded by `satang bench seed`), refund
// it, roll a webhook secret, redeliver an event to a real receiver, export CSV, set a support URL the
// payer's page then shows, switch to live mode, change
// a one-time password at first login, log out; in English and Thai, on a desktop and a 320 px phone. axe-core audits every page
// (WCAG 2.1 A and AA, and best practices) and any violation fails the run. Screenshots go to
// $SATANG_SCREENSHOTS (docs/screenshots/dashboard).
'use strict';
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require('playwright-core');

const BASE = process.env.SATANG_URL;
const SKEY = process.env.SATANG_SKEY;
const EMAIL = process.env.SATANG_EMAIL;
const PASSWORD = process.env.SATANG_PASSWORD;
const OUT = process.env.SATANG_SCREENSHOTS;
const CHROMIUM = process.env.SATANG_CHROMIUM || '/usr/bin/chromium';
const SEEDED = Number(process.env.SATANG_SEED_CHARGES || 20);
const ONE_TIME_EMAIL = process.env.SATANG_ONE_TIME_EMAIL;
const ONE_TIME_PASSWORD = process.env.SATANG_ONE_TIME_PASSWORD;
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const violations = [];

async function api(method, p, body) {
  const res = await fetch(BASE + p, {
    method,
    headers: { Authorization: 'Basic ' + Buffer.from(SKEY + ':').toString('base64'), 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (json.object === 'error') throw new Error(`${method} ${p}: ${json.code} ${json.message}`);
  return json;
}

// A webhook receiver that keeps the event ID of every delivery it gets.
function startReceiver() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      try { received.push(JSON.parse(body).id); } catch (e) { received.push(null); }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"received":true}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}/hooks` })));
}

async function until(what, check, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function audit(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  for (const v of result.violations) {
    violations.push(`${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
  console.log(`axe ${name}: ${result.passes.length} rules pass, ${result.violations.length} violations`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, name), fullPage: true });
  console.log(`screenshot ${name}: ${await page.title()} @ ${page.url()}`);
  await audit(page, name);
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  // Many charges, one of them the order we look for.
  for (let i = 0; i < SEEDED; i++) {
    await api('POST', '/charges', {
      amount: 10000 + i, currency: 'THB', return_uri: 'https://shop.example/r', description: `Order ${1000 + i}`,
      metadata: { order_id: `ORD-${1000 + i}` }, source: { type: 'alipay' },
    });
  }
  const target = await api('POST', '/charges', {
    amount: 259000, currency: 'THB', return_uri: 'https://shop.example/r', description: 'ข้าวมันไก่ 20 กล่อง',
    metadata: { order_id: 'ORD-TARGET-77', customer: 'Somchai' }, source: { type: 'alipay' },
  });
  await api('POST', `/charges/${target.id}/mark_as_paid`);
  const receiver = await startReceiver();
  await api('POST', '/webhook_endpoints', { url: receiver.url });

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const page = await desktop.newPage();

  // No session: the login page.
  await page.goto(BASE + '/dashboard');
  assert.ok(page.url().endsWith('/dashboard/login'), page.url());
  await shot(page, 'en-01-login.png');
  await page.fill('#email', EMAIL);
  await page.fill('#password', 'not the password');
  await page.click('#login');
  assert.ok(await page.isVisible('#login-error'));
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await page.click('#login');
  await page.waitForURL(BASE + '/dashboard');
  assert.strictEqual(await page.textContent('#mode'), 'Test mode');
  await shot(page, 'en-02-charges.png');

  // Find the charge by a metadata value, open it, refund part of it.
  await page.fill('#q', 'ORD-TARGET-77');
  await page.click('#search');
  const rows = await page.$$('#charges tbody tr');
  assert.strictEqual(rows.length, 1);
  await page.click(`a[href="/dashboard/charges/${target.id}"]`);
  assert.strictEqual(await page.textContent('#remaining'), 'THB 2,590.00');
  await shot(page, 'en-03-charge.png');
  await page.fill('#refund-amount', '590');
  await page.click('#refund');
  await page.waitForSelector('#notice');
  assert.strictEqual(await page.textContent('#remaining'), 'THB 2,000.00');
  const after = await api('GET', `/charges/${target.id}`);
  assert.strictEqual(after.refunded_amount, 59000);
  await shot(page, 'en-04-charge-refunded.png');

  // Roll the webhook secret: the old one stays valid for a while.
  await page.click('#nav-webhooks');
  const before = await page.textContent('.secret');
  await page.click('.roll');
  await page.waitForSelector('text=previous secret valid until');
  assert.notStrictEqual(await page.textContent('.secret'), before);
  await shot(page, 'en-05-webhooks.png');

  // Redeliver an event the receiver already has: it gets it once more.
  await until('the first deliveries', () => receiver.received.length > 0);
  const count = (id) => receiver.received.filter((x) => x === id).length;
  let form = null;
  let eventId = null;
  for (const f of await page.$$('form[action$="/redeliver"]')) {
    const id = (await f.getAttribute('action')).split('/')[3];
    if (count(id) > 0) { form = f; eventId = id; break; }
  }
  assert.ok(form, `no redeliver button for a delivered event (${receiver.received.join(', ')})`);
  const had = count(eventId);
  await Promise.all([page.waitForNavigation(), form.$eval('button', (b) => b.click())]);
  await until('the redelivery', () => count(eventId) > had);
  console.log(`redelivered ${eventId}: ${had} -> ${count(eventId)} deliveries`);
  await shot(page, 'en-05b-webhooks-redelivered.png');

  // Money: balance, the 30-day chart, and a CSV export of this month's charges.
  await page.click('#nav-money');
  assert.ok(await page.isVisible('#balances'));
  assert.ok(await page.isVisible('svg.chart'));
  await shot(page, 'en-09-money.png');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const csv = fs.readFileSync(await download.path(), 'utf8').split('\r\n');
  assert.strictEqual(csv[0], 'id,created,status,currency,amount,fee,fee_vat,net,refunded,method,description,metadata');
  const line = csv.find((l) => l.startsWith(target.id + ','));
  assert.ok(line && line.includes(',successful,THB,259000,') && line.includes(',59000,'), line);
  console.log(`csv export: ${csv.filter((l) => l).length - 1} charges, ${download.suggestedFilename()}`);
  await page.click('#nav-keys');
  await shot(page, 'en-11-keys.png');

  // Settings: a support URL, which the payer's page then offers.
  await page.click('#nav-settings');
  assert.ok(await page.isVisible('#settings'));
  await page.fill('#support-url', 'https://shop.example/help');
  await page.click('#save-settings');
  await page.waitForSelector('#notice');
  await shot(page, 'en-13-settings.png');
  const pending = await api('POST', '/charges', {
    amount: 45000, currency: 'THB', return_uri: 'https://shop.example/r', source: { type: 'alipay' },
  });
  const payer = await desktop.newPage();
  await payer.goto(pending.authorize_uri);
  assert.ok(await payer.isVisible('a[href="https://shop.example/help"]'), 'the payer page offers the support URL');
  await payer.close();
  await page.click('#nav-audit');
  assert.ok((await page.textContent('#audit')).includes('charge.refund'));
  await shot(page, 'en-10-audit.png');

  // Thai.
  await page.goto(BASE + '/dashboard?lang=th');
  assert.strictEqual(await page.getAttribute('html', 'lang'), 'th');
  await shot(page, 'th-02-charges.png');
  await page.goto(`${BASE}/dashboard/charges/${target.id}`);
  await shot(page, 'th-03-charge.png');
  await page.goto(BASE + '/dashboard/webhooks');
  await shot(page, 'th-05-webhooks.png');
  await page.goto(BASE + '/dashboard/money');
  await shot(page, 'th-09-money.png');
  await page.goto(BASE + '/dashboard/audit');
  await shot(page, 'th-10-audit.png');
  await page.goto(BASE + '/dashboard/keys');
  await shot(page, 'th-11-keys.png');
  await page.goto(BASE + '/dashboard/settings');
  await shot(page, 'th-13-settings.png');

  // Live mode is marked on every page.
  await page.click('#mode-switch');
  await page.waitForURL(BASE + '/dashboard');
  assert.strictEqual(await page.getAttribute('body', 'class'), 'live');
  await shot(page, 'th-06-live.png');
  await page.click('#mode-switch');
  await page.goto(BASE + '/dashboard?lang=en');

  // A 320 px phone, same session.
  const phone = await desktop.newPage();
  await phone.setViewportSize({ width: 320, height: 720 });
  await phone.goto(BASE + '/dashboard');
  await shot(phone, 'en-07-phone-charges.png');
  await phone.goto(`${BASE}/dashboard/charges/${target.id}`);
  await shot(phone, 'en-08-phone-charge.png');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the phone page scrolls sideways by ${overflow}px`);

  // A user made with a one-time password chooses their own before anything else.
  if (ONE_TIME_EMAIL) {
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const p = await fresh.newPage();
    await p.goto(BASE + '/dashboard/login');
    await p.fill('#email', ONE_TIME_EMAIL);
    await p.fill('#password', ONE_TIME_PASSWORD);
    await p.click('#login');
    await p.waitForURL(BASE + '/dashboard/password');
    assert.ok(await p.isVisible('#one-time'));
    await shot(p, 'en-12-password.png');
    await p.fill('#current', ONE_TIME_PASSWORD);
    await p.fill('#new', 'staff chosen passphrase 2026');
    await p.fill('#repeat', 'staff chosen passphrase 2026');
    await p.click('#change-password');
    await p.waitForURL(BASE + '/dashboard');
    await p.goto(BASE + '/dashboard/password?lang=th');
    await p.goto(BASE + '/dashboard/password');
    await shot(p, 'th-12-password.png');
    await fresh.close();
  }

  // Log out: the dashboard is closed again.
  await page.click('#logout');
  await page.waitForURL(BASE + '/dashboard/login');
  await page.goto(BASE + '/dashboard?lang=th');
  assert.ok(page.url().endsWith('/dashboard/login'));
  await page.goto(BASE + '/dashboard/login?lang=th');
  await shot(page, 'th-01-login.png');

  await browser.close();
  receiver.server.close();
  if (violations.length) {
    console.error(violations.join('\n'));
    process.exit(1);
  }
  console.log('dashboard browser journey ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
