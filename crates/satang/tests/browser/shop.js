// The example shop (examples/shop, Python with omise-python) driven in Chromium against a real `satang
// serve`, started by crates/satang/tests/shop.rs. The shop's cart page creates sources with Omise.js from
// its own origin: satang's drop-in, or "the stock script" with Omise.config.interfaceUrl. The stock
// Omise.js cannot be downloaded here (no network but package registries, and no npm package ships it), so
// a stand-in CDN on a third origin serves the drop-in's code: loaded from there it points at that origin,
// and only the documented `Omise.config.interfaceUrl` contract makes it reach satang.
'use strict';
const assert = require('assert');
const { execFileSync, spawn } = require('child_process');
const http = require('http');
const path = require('path');
const fs = require('fs');
const { chromium, devices } = require('playwright-core');

const SATANG = process.env.SATANG_URL;
const SKEY = process.env.SATANG_SKEY;
const OUT = process.env.SATANG_ARTIFACTS;
const CHROMIUM = process.env.SATANG_CHROMIUM || '/usr/bin/chromium';

async function api(method, p) {
  const res = await fetch(SATANG + p, {
    method, headers: { Authorization: 'Basic ' + Buffer.from(SKEY + ':').toString('base64') },
  });
  return res.json();
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function freePort() {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

// Stand-in for cdn.omise.co.
async function startCdn() {
  const code = await (await fetch(`${SATANG}/omise.js`)).text();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/javascript' });
    res.end(code);
  });
  const port = await listen(server);
  return { server, url: `http://127.0.0.1:${port}/omise.js` };
}

async function startShop(cdnUrl) {
  const port = await freePort();
  const shopUrl = `http://127.0.0.1:${port}`;
  // The shop's webhook endpoint, as its operator adds it; the shop verifies deliveries with its secret.
  const endpoint = JSON.parse(execFileSync(process.env.SATANG_BIN, ['webhook', 'add', '--account',
    process.env.SHOP_ACCOUNT, '--mode', 'test', '--url', `${shopUrl}/webhooks`, '--json',
    '--database', process.env.SHOP_DATABASE]).toString());
  const child = spawn(process.env.SHOP_PYTHON, [path.join(process.env.SHOP_DIR, 'shop.py')], {
    env: {
      ...process.env, SATANG_URL: SATANG, SHOP_LISTEN: `127.0.0.1:${port}`, STOCK_OMISE_JS: cdnUrl,
      OMISE_PUBLIC_KEY: process.env.SHOP_PKEY, OMISE_SECRET_KEY: SKEY, WEBHOOK_SECRET: endpoint.secret,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(shopUrl + '/')).ok) return { child, url: shopUrl };
    } catch (e) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('the example shop did not start');
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, name), fullPage: true });
  console.log(`screenshot ${name}: ${page.url()}`);
}

// Cart → Omise.js createSource → the shop's server creates the charge → authorize_uri.
async function checkout(page, shop, method, query = '') {
  await page.goto(`${shop.url}/${query}`);
  await page.check(`input[name=method][value=${method}]`);
  await Promise.all([page.waitForURL(/\/pay\/chrg_test_/), page.click('#pay')]);
  return page.url().match(/\/pay\/(chrg_test_[0-9a-z]+)\//)[1];
}

async function orderStatus(page) {
  await page.locator('#order-status').waitFor();
  return page.locator('#order-status').getAttribute('data-status');
}

async function webhookSeen(shop, chargeId, key) {
  for (let i = 0; i < 100; i++) {
    const seen = await (await fetch(`${shop.url}/webhooks/seen`)).json();
    if (seen.some((e) => e.charge === chargeId && e.key === key)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no verified ${key} webhook for ${chargeId}`);
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const cdn = await startCdn();
  const shop = await startShop(cdn.url);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    // 1. Desktop, AlipayHK, the drop-in: a QR code a phone scans; the desktop moves on by itself.
    const desktop = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const d = await desktop.newPage();
    await d.goto(shop.url + '/');
    await shot(d, 'shop-01-cart.png');
    const qrCharge = await checkout(d, shop, 'alipay_hk');
    await d.locator('#qr svg').waitFor();
    await shot(d, 'shop-02-qr.png');
    const phone = await browser.newContext({ ...devices['iPhone 13'] });
    const scan = await phone.newPage();
    await scan.goto(await d.locator('#qr').getAttribute('data-wallet-url'));
    await Promise.all([scan.waitForURL(/wallet\?via=qr$/), scan.click('#pay')]);
    await scan.locator('#final[data-status="successful"]').waitFor();
    await d.waitForURL(/\/orders\/[a-z0-9]+\/complete$/, { timeout: 15000 });
    assert.strictEqual(await orderStatus(d), 'successful');
    assert.strictEqual(await d.locator('#charge-id').innerText(), qrCharge);
    await shot(d, 'shop-03-paid.png');
    await webhookSeen(shop, qrCharge, 'charge.complete');
    console.log(`desktop AlipayHK QR: ${qrCharge} successful, signed webhook verified`);

    // 2. Phone hand-off, with the stock script pointed at satang by Omise.config.interfaceUrl.
    const p = await phone.newPage();
    const appCharge = await checkout(p, shop, 'alipay_hk', '?script=stock');
    assert.strictEqual((await api('GET', `/charges/${appCharge}`)).source.platform_type, 'IOS');
    await p.waitForURL(/\/app$/, { timeout: 10000 });
    await Promise.all([p.waitForURL(/\/orders\/[a-z0-9]+\/complete$/), p.click('#pay')]);
    assert.strictEqual(await orderStatus(p), 'successful');
    console.log(`phone hand-off (stock script, interfaceUrl): ${appCharge} successful`);

    // 3. Alipay's redirect flow.
    const alipayCharge = await checkout(d, shop, 'alipay');
    await Promise.all([d.waitForURL(/\/orders\/[a-z0-9]+\/complete$/), d.click('#pay')]);
    assert.strictEqual(await orderStatus(d), 'successful');
    console.log(`Alipay redirect: ${alipayCharge} successful`);

    // 4. A failure: the shop says so after reading the charge.
    const failCharge = await checkout(d, shop, 'alipay', '?script=stock');
    await d.check('#code-insufficient_fund');
    await Promise.all([d.waitForURL(/\/orders\/[a-z0-9]+\/complete$/), d.click('#fail')]);
    assert.strictEqual(await orderStatus(d), 'failed');
    await shot(d, 'shop-04-failed.png');
    await webhookSeen(shop, failCharge, 'charge.complete');
    console.log(`failure: ${failCharge} failed`);

    // 5. An expiry while the QR code is shown: the desktop page moves on, the shop reads "expired".
    const expCharge = await checkout(d, shop, 'alipay_hk');
    await d.locator('#qr svg').waitFor();
    const expired = await api('POST', `/charges/${expCharge}/expire`);
    assert.strictEqual(expired.status, 'expired');
    await d.waitForURL(/\/orders\/[a-z0-9]+\/complete$/, { timeout: 15000 });
    assert.strictEqual(await orderStatus(d), 'expired');
    await webhookSeen(shop, expCharge, 'charge.expire');
    console.log(`expiry: ${expCharge} expired`);

    // 6. createSource errors reach the callback with their status and body, in both scripts.
    for (const script of ['', '&script=stock']) {
      await d.goto(`${shop.url}/?amount=1${script}`);
      await d.click('#pay');
      await d.locator('#error:not(:empty)').waitFor();
      const bad = await d.locator('#error').innerText();
      assert.match(bad, /^Payment could not start \(400\): .*amount/, bad);
      await d.goto(`${shop.url}/?pkey=pkey_test_nosuchkey${script}`);
      await d.click('#pay');
      await d.locator('#error:not(:empty)').waitFor();
      const unauth = await d.locator('#error').innerText();
      assert.match(unauth, /^Payment could not start \(401\): authentication failed/, unauth);
    }
    await shot(d, 'shop-05-create-source-error.png');
    // Cards are not satang's: the drop-in's createToken says so through the callback.
    const token = await d.evaluate(() => new Promise((resolve) => {
      window.Omise.createToken('card', { number: '4242424242424242' }, (status, json) => resolve({ status, json }));
    }));
    assert.strictEqual(token.status, 400);
    assert.strictEqual(token.json.code, 'not_supported');
    console.log('createSource errors (400, 401) reached the callback');
  } finally {
    await browser.close();
    shop.child.kill();
    cdn.server.close();
  }
}

main().then(() => console.log('shop journeys ok'), (e) => {
  console.error('FAILED:', e);
  process.exit(1);
});
