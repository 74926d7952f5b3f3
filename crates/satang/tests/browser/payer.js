// The payer's journey in a real browser (Debian's Chromium, driven by playwright-core), against a real
// `satang serve` started by crates/satang/tests/browser.rs. A local "shop" server is the return_uri.
// Screenshots go to $SATANG_ARTIFACTS; the pictures of every page in both languages, for the README, to
// $SATANG_SCREENSHOTS (docs/screenshots). axe-core audits every page (WCAG 2.1 A and AA, and best practices);
// any violation fails the run, and the report is written to $SATANG_ARTIFACTS/axe-report.json.
'use strict';
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium, devices } = require('playwright-core');

const BASE = process.env.SATANG_URL;
const SKEY = process.env.SATANG_SKEY;
const LIVE_SKEY = process.env.SATANG_LIVE_SKEY;
const DOCS = process.env.SATANG_SCREENSHOTS;
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const axeReport = [];
const OUT = process.env.SATANG_ARTIFACTS;
const CHROMIUM = process.env.SATANG_CHROMIUM || '/usr/bin/chromium';

async function api(method, p, body, key = SKEY) {
  const res = await fetch(BASE + p, {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from(key + ':').toString('base64'),
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

// axe-core in the page (evaluated over the DevTools protocol, which the pages' CSP does not block).
async function audit(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  const violations = result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary),
  }));
  axeReport.push({ page: name, url: page.url(), passes: result.passes.length, violations });
  console.log(`axe ${name}: ${result.passes.length} rules pass, ${violations.length} violations`);
}

// `audit`: false for the test's stand-in shop (not satang's), and for a page that navigates away by itself.
async function shot(page, name, audit_ = true) {
  await page.screenshot({ path: path.join(OUT, name), fullPage: true });
  console.log(`screenshot ${name}: ${await page.title()} @ ${page.url()}`);
  if (audit_) await audit(page, name);
}

// A picture for the README (docs/screenshots), audited like every page.
async function doc(page, name) {
  await page.screenshot({ path: path.join(DOCS, name + '.png'), fullPage: true });
  console.log(`docs/screenshots/${name}.png: ${await page.title()}`);
  await audit(page, name);
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
  assert.strictEqual(await page.locator('#method').innerText(), 'AlipayHK');
  assert.match(await page.locator('#expires').innerText(), /\(Singapore time\)/);
  assert.match(await page.locator('#countdown').innerText(), /^6d 23:\d\d:\d\d left$/);
  await shot(page, '01-desktop-alipayhk-qr.png');

  const walletUrl = await page.locator('#qr').getAttribute('data-wallet-url');
  const phone = await browser.newContext({ ...devices['iPhone 13'], locale: 'en-US' });
  const phonePage = await phone.newPage();
  await phonePage.goto(walletUrl);
  await shot(phonePage, '02-phone-wallet-confirm.png');
  // The phone that scanned gets the wallet's receipt; the desktop is the one that goes back to the shop.
  await Promise.all([phonePage.waitForURL(/\/wallet\?via=qr$/), phonePage.click('#pay')]);
  await phonePage.locator('#final[data-status="successful"]').waitFor();
  assert.strictEqual(await phonePage.locator('#back').count(), 0);
  await shot(phonePage, '02b-phone-receipt.png');

  // The desktop page polls the status route and moves on to return_uri without a click.
  await page.waitForURL(`${shop.url}/orders/A/complete`, { timeout: 15000 });
  await shot(page, '03-desktop-back-at-shop.png', false);
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
  // Not audited here: the page moves on by itself within a second (audited held still in everyPageBothLanguages).
  await shot(page, '04-phone-handoff.png', false);
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

// Every payer page in both languages, as pictures for the README.
async function everyPageBothLanguages(browser, shop) {
  fs.mkdirSync(DOCS, { recursive: true });
  for (const lang of ['en', 'th']) {
    const locale = lang === 'th' ? 'th-TH' : 'en-US';
    const desktop = await browser.newContext({ viewport: { width: 1024, height: 760 }, locale });
    const phone = await browser.newContext({ ...devices['iPhone 13'], locale });
    const d = await desktop.newPage();
    const p = await phone.newPage();
    const o = (n) => `${lang}-${n}`;

    const alipay = await charge(shop, `${lang}-1`, { type: 'alipay', currency: 'THB' });
    await d.goto(alipay.authorize_uri);
    await d.locator('#pay').waitFor();
    await doc(d, o('01-alipay-checkout'));

    const web = await charge(shop, `${lang}-2`, { type: 'alipay_hk', currency: 'SGD', platform_type: 'WEB' });
    await d.goto(web.authorize_uri);
    await d.locator('#qr svg').waitFor();
    await doc(d, o('02-alipayhk-qr-on-a-computer'));

    const ios = await charge(shop, `${lang}-3`, { type: 'alipay_hk', currency: 'THB', platform_type: 'IOS' });
    await d.goto(ios.authorize_uri);
    await d.locator('#app-fallback').waitFor();
    await d.waitForTimeout(1200);
    assert.strictEqual(d.url(), ios.authorize_uri, 'an app charge on a computer stays on its QR code');
    await doc(d, o('03-alipayhk-phone-charge-opened-on-a-computer'));

    // Without the page script, so the hand-off page stays put for its picture.
    const h = await phone.newPage();
    await h.route('**/pay-assets/pay.js', (route) => route.abort());
    await h.goto(ios.authorize_uri);
    await h.locator('#open-app').waitFor();
    await doc(h, o('04-alipayhk-hand-off-on-a-phone'));
    await p.goto(`${ios.authorize_uri}/app`);
    await p.locator('#pay').waitFor();
    await doc(p, o('05-alipayhk-app'));

    const walletUrl = await d.locator('#qr').getAttribute('data-wallet-url');
    await p.goto(walletUrl);
    await p.locator('#pay').waitFor();
    await doc(p, o('06-alipayhk-wallet-after-scanning'));
    await Promise.all([p.waitForURL(/\/wallet\?via=qr$/), p.click('#pay')]);
    await p.locator('#final').waitFor();
    await doc(p, o('07-alipayhk-receipt-on-the-phone'));
    // The computer still showing that charge's QR code moves on to the shop by itself.
    await d.waitForURL(`${shop.url}/orders/${lang}-3/complete`, { timeout: 15000 });

    await api('POST', `/charges/${alipay.id}/mark_as_paid`);
    await d.goto(alipay.authorize_uri);
    await d.locator('#reference').waitFor();
    await doc(d, o('08-paid'));

    const failed = await charge(shop, `${lang}-4`, { type: 'alipay', currency: 'THB' });
    await api('POST', `/charges/${failed.id}/mark_as_failed`, { failure_code: 'insufficient_fund' });
    await p.goto(failed.authorize_uri);
    await p.locator('#reason').waitFor();
    await doc(p, o('09-failed'));

    const expiring = await charge(shop, `${lang}-5`, { type: 'alipay_hk', currency: 'SGD', platform_type: 'WEB' });
    await api('POST', `/charges/${expiring.id}/expire`);
    await d.goto(expiring.authorize_uri);
    await d.locator('#final[data-status="expired"]').waitFor();
    await doc(d, o('10-expired'));

    await d.goto(`${BASE}/pay/chrg_test_00000000000000000000/nosuchtoken`);
    await doc(d, o('11-unknown-link'));

    const live = await api('POST', '/charges', {
      amount: 100000, currency: 'THB', return_uri: `https://shop.example/orders/${lang}-6/complete`,
      source: { type: 'alipay' },
    }, LIVE_SKEY);
    await d.goto(live.authorize_uri);
    await d.locator('#back').waitFor();
    await doc(d, o('12-live-payment-not-available'));

    await desktop.close();
    await phone.close();
  }
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
    await everyPageBothLanguages(browser, shop);
  } finally {
    await browser.close();
    shop.server.close();
  }
}

function axeVerdict() {
  fs.writeFileSync(path.join(OUT, 'axe-report.json'), JSON.stringify(axeReport, null, 2));
  const bad = axeReport.filter((r) => r.violations.length > 0);
  console.log(`axe-core: ${axeReport.length} pages audited, ${bad.length} with violations`);
  if (bad.length > 0) {
    throw new Error('axe-core violations:\n' + JSON.stringify(bad, null, 2));
  }
}

main().then(axeVerdict).then(() => console.log('browser journeys ok'), (e) => {
  console.error('FAILED:', e);
  process.exit(1);
});
