// The payer's journey in a real browser (Debian's Chromium, driven by playwright-core), against a real
// `satang serve` started by crates/satang/tests/browser.rs. A local "shop" server is the return_uri.
// Screenshots go to $SATANG_ARTIFACTS.
'use strict';
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium, devices } = require('playwright-core');

const BASE = process.env.SATANG_URL;
const SKEY = process.env.SATANG_SKEY;
const OUT = process.env.SATANG_ARTIFACTS;
const CHROMIUM = process.env.SATANG_CHROMIUM || '/usr/bin/chromium';

async function api(method, p, body) {
  const res = await fetch(BASE + p, {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from(SKEY + ':').toString('base64'),
      'Content-Type': 'application/json',
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (json.object === 'error') throw new Error(`${method} ${p}: ${json.code} ${json.message}`);
  return json;
}

// The merchant's shop: return_uri lands here.
function startShop() {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Shop</title><h1 id="shop">Back at the shop</h1><p>${req.url}</p>`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, hits, url: `http://127.0.0.1:${server.address().port}` });
  }));
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, name), fullPage: true });
  console.log(`screenshot ${name}: ${await page.title()} @ ${page.url()}`);
}

async function charge(shop, order, source, extra = {}) {
  return api('POST', '/charges', {
    amount: source.currency === 'SGD' ? 150000 : 100000,
    currency: source.currency,
    return_uri: `${shop.url}/orders/${order}/complete`,
    description: `Order ${order}`,
    source: { type: source.type, platform_type: source.platform_type },
    ...extra,
  });
}

async function keys(id) {
  const events = await api('GET', `/charges/${id}/events`);
  return events.data.map((e) => e.key);
}

// Desktop shows the QR code; a phone opens its URL and pays; the desktop page notices by itself.
async function desktopQrThenPhonePays(browser, shop) {
  const c = await charge(shop, 'A', { type: 'alipay_hk', currency: 'SGD', platform_type: 'WEB' });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US' });
  const page = await desktop.newPage();
  await page.goto(c.authorize_uri);
  await page.locator('#qr svg').waitFor();
  assert.strictEqual(await page.locator('#amount').innerText(), 'SGD 1,500.00');
  assert.strictEqual(await page.locator('#merchant').innerText(), 'Browser Shop');
  assert.strictEqual(await page.locator('#method').innerText(), 'Alipay HK');
  await shot(page, '01-desktop-alipayhk-qr.png');

  const walletUrl = await page.locator('#qr').getAttribute('data-wallet-url');
  const phone = await browser.newContext({ ...devices['iPhone 13'], locale: 'en-US' });
  const phonePage = await phone.newPage();
  await phonePage.goto(walletUrl);
  await shot(phonePage, '02-phone-wallet-confirm.png');
  await Promise.all([phonePage.waitForURL(`${shop.url}/orders/A/complete`), phonePage.click('#pay')]);

  // The desktop page polls the status route and moves on to return_uri without a click.
  await page.waitForURL(`${shop.url}/orders/A/complete`, { timeout: 15000 });
  await shot(page, '03-desktop-back-at-shop.png');
  const after = await api('GET', `/charges/${c.id}`);
  assert.strictEqual(after.status, 'successful');
  assert.deepStrictEqual(await keys(c.id), ['charge.create', 'charge.complete']);
  await desktop.close();
  await phone.close();
}

// On a phone (IOS) the page hands off to the wallet app; the payer's wallet refuses the payment.
async function phoneHandoffFails(browser, shop) {
  const c = await charge(shop, 'B', { type: 'alipay_hk', currency: 'THB', platform_type: 'IOS' });
  const phone = await browser.newContext({ ...devices['iPhone 13'], locale: 'en-US' });
  const page = await phone.newPage();
  await page.goto(c.authorize_uri);
  await page.locator('#open-app').waitFor();
  await shot(page, '04-phone-handoff.png');
  // The hand-off opens the (simulated) app by itself.
  await page.waitForURL(/\/app$/, { timeout: 10000 });
  await page.check('#code-insufficient_fund');
  await shot(page, '05-phone-app-choose-failure.png');
  await Promise.all([page.waitForURL(`${shop.url}/orders/B/complete`), page.click('#fail')]);
  const after = await api('GET', `/charges/${c.id}`);
  assert.strictEqual(after.status, 'failed');
  assert.strictEqual(after.failure_code, 'insufficient_fund');
  // Opening the payment link again shows the final state.
  await page.goto(c.authorize_uri);
  await page.locator('#final').waitFor();
  assert.strictEqual(await page.locator('#final').getAttribute('data-status'), 'failed');
  await shot(page, '06-phone-final-failed.png');
  await phone.close();
}

// Alipay's checkout on a desktop: pay, then the back button and a second submit change nothing.
async function checkoutBackButtonDoubleSubmit(browser, shop) {
  const c = await charge(shop, 'C', { type: 'alipay', currency: 'THB' });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US' });
  const page = await ctx.newPage();
  await page.goto(c.authorize_uri);
  await page.locator('#pay').waitFor();
  assert.strictEqual(await page.locator('#amount').innerText(), 'THB 1,000.00');
  await shot(page, '07-desktop-alipay-checkout.png');
  await Promise.all([page.waitForURL(`${shop.url}/orders/C/complete`), page.click('#pay')]);
  await page.goBack();
  // Whatever the browser shows on the way back (a fresh page with the final state, or the old form),
  // submitting again must not change the charge.
  if (await page.locator('#pay').count() > 0 && await page.locator('#pay').isEnabled()) {
    await page.click('#fail');
    await page.waitForLoadState();
  }
  await page.goto(c.authorize_uri);
  await page.locator('#final').waitFor();
  assert.strictEqual(await page.locator('#final').getAttribute('data-status'), 'successful');
  assert.strictEqual(await page.locator('#pay').count(), 0);
  await shot(page, '08-desktop-final-after-back-button.png');
  // A form replayed with the old CSRF token is harmless too.
  const replay = await page.evaluate(async (url) => {
    const r = await fetch(url, { method: 'POST', body: new URLSearchParams({ outcome: 'fail', csrf: 'x'.repeat(32) }) });
    return r.status;
  }, c.authorize_uri);
  assert.strictEqual(replay, 403);
  const after = await api('GET', `/charges/${c.id}`);
  assert.strictEqual(after.status, 'successful');
  assert.deepStrictEqual(await keys(c.id), ['charge.create', 'charge.complete']);
  await ctx.close();
}

// Thai by Accept-Language, English by the switch.
async function thaiAndTheSwitch(browser, shop) {
  const c = await charge(shop, 'D', { type: 'alipay', currency: 'THB' });
  const ctx = await browser.newContext({ ...devices['Pixel 7'], locale: 'th-TH' });
  const page = await ctx.newPage();
  await page.goto(c.authorize_uri);
  assert.strictEqual(await page.locator('#title').innerText(), 'หน้าชำระเงินอาลีเพย์');
  await shot(page, '09-phone-thai-checkout.png');
  await page.click('#lang-switch');
  await page.locator('#title').waitFor();
  assert.strictEqual(await page.locator('#title').innerText(), 'Alipay checkout');
  // The choice sticks for the next page view.
  await page.goto(c.authorize_uri);
  assert.strictEqual(await page.locator('#title').innerText(), 'Alipay checkout');
  await ctx.close();
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const shop = await startShop();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    await desktopQrThenPhonePays(browser, shop);
    await phoneHandoffFails(browser, shop);
    await checkoutBackButtonDoubleSubmit(browser, shop);
    await thaiAndTheSwitch(browser, shop);
  } finally {
    await browser.close();
    shop.server.close();
  }
}

main().then(() => console.log('browser journeys ok'), (e) => {
  console.error('FAILED:', e);
  process.exit(1);
});
