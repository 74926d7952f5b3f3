// The live payer journey in a real browser (Debian's Chromium, driven by playwright-core), against a real
// `satang serve` whose account's connector points at the Antom simulator (started by
// crates/satang/tests/antom_live.rs). Live return_uris must be https: the shop at https://shop.example is
// answered by the browser context itself (route interception), nothing leaves the machine.
'use strict';
const assert = require('assert');
const path = require('path');
const { chromium, devices } = require('playwright-core');

const BASE = process.env.SATANG_URL;
const SKEY = process.env.SATANG_SKEY;
const OUT = process.env.SATANG_ARTIFACTS;
const CHROMIUM = process.env.SATANG_CHROMIUM || '/usr/bin/chromium';
const SHOP = 'https://shop.example';

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

async function context(browser, options) {
  const ctx = await browser.newContext(options);
  await ctx.route(`${SHOP}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Shop</title><h1 id="shop">Back at the shop</h1>' }));
  return ctx;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, name), fullPage: true });
  console.log(`screenshot ${name}: ${await page.title()} @ ${page.url()}`);
}

async function waitStatus(id, want) {
  for (let i = 0; i < 100; i++) {
    const c = await api('GET', `/charges/${id}`);
    if (c.status === want) return c;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`charge ${id} never became ${want}`);
}

// Desktop: the QR of Antom's code value; a phone scans it (opens the wallet page) and pays; the desktop
// page notices by itself and moves on to the shop.
async function desktopQrScannedByPhone(browser) {
  const c = await api('POST', '/charges', {
    amount: 12345, currency: 'THB', return_uri: `${SHOP}/orders/L1`, source: { type: 'alipay_hk' },
  });
  const desktop = await context(browser, { viewport: { width: 1280, height: 860 }, locale: 'en-US' });
  const page = await desktop.newPage();
  await page.goto(c.authorize_uri);
  await page.locator('#qr svg').waitFor();
  await shot(page, 'live-01-desktop-qr.png');
  const walletUrl = await page.locator('#qr').getAttribute('data-wallet-url');
  assert.ok(walletUrl.includes('/wallet/'), walletUrl);

  const phone = await context(browser, { ...devices['iPhone 13'], locale: 'en-US' });
  const phonePage = await phone.newPage();
  await phonePage.goto(walletUrl);
  await shot(phonePage, 'live-02-phone-antom-wallet.png');
  await phonePage.locator('#pay').click();
  await phonePage.waitForURL(`${SHOP}/orders/L1`);
  await page.waitForURL(`${SHOP}/orders/L1`, { timeout: 15000 });
  await shot(page, 'live-03-desktop-back-at-shop.png');
  const paid = await waitStatus(c.id, 'successful');
  assert.strictEqual(paid.paid, true);
  await desktop.close();
  await phone.close();
}

// Phone, Alipay HK: the hand-off opens the wallet through its app link; the payer fails with a balance
// too low.
async function phoneHandoffFails(browser) {
  const c = await api('POST', '/charges', {
    amount: 12345, currency: 'THB', return_uri: `${SHOP}/orders/L2`, source: { type: 'alipay_hk' },
  });
  const phone = await context(browser, { ...devices['Pixel 7'], locale: 'th-TH' });
  const page = await phone.newPage();
  await page.goto(c.authorize_uri);
  const appLink = await page.locator('#open-app').getAttribute('href');
  assert.ok(appLink.includes('via=applink'), appLink);
  await shot(page, 'live-04-phone-handoff-th.png');
  // The page hands off by itself (the simulator's app link opens its wallet page in the browser).
  await page.waitForURL(/\/wallet\//);
  await page.locator('#code').selectOption('USER_BALANCE_NOT_ENOUGH');
  await page.locator('#fail').click();
  await page.waitForURL(`${SHOP}/orders/L2`);
  const failed = await waitStatus(c.id, 'failed');
  assert.strictEqual(failed.failure_code, 'insufficient_fund');
  await page.goto(c.authorize_uri);
  await shot(page, 'live-05-phone-final-failed-th.png');
  await phone.close();
}

// Desktop, Alipay: forwarded to the wallet's own page; pays; back at the shop.
async function desktopAlipayForwarded(browser) {
  const c = await api('POST', '/charges', {
    amount: 12345, currency: 'THB', return_uri: `${SHOP}/orders/L3`, source: { type: 'alipay' },
  });
  const desktop = await context(browser, { viewport: { width: 1280, height: 860 }, locale: 'en-US' });
  const page = await desktop.newPage();
  await page.goto(c.authorize_uri);
  await page.waitForURL(/\/wallet\//);
  assert.strictEqual(await page.locator('h1').innerText(), 'ALIPAY_CN (simulated wallet)');
  await shot(page, 'live-06-desktop-alipay-wallet.png');
  await page.locator('#pay').click();
  await page.waitForURL(`${SHOP}/orders/L3`);
  await waitStatus(c.id, 'successful');
  await desktop.close();
}

(async () => {
  require('fs').mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    await desktopQrScannedByPhone(browser);
    await phoneHandoffFails(browser);
    await desktopAlipayForwarded(browser);
    console.log('live browser journeys: ok');
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
