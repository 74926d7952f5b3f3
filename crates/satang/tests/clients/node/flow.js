// The Alipay / Alipay HK integration of the seeds, written the way a merchant writes it with omise-node.
// omise-node cannot take a port (omise-wire.md §1.2), so satang listens on port 80 of its own loopback
// address and the client gets `host` and `scheme: 'http'`: the only satang-specific settings.
'use strict';
const assert = require('assert');
const omiseApi = require('omise/lib/api');

const host = process.env.SATANG_HOST;
const omise = require('omise')({
  publicKey: process.env.SATANG_PKEY,
  secretKey: process.env.SATANG_SKEY,
  host,
  scheme: 'http',
  omiseVersion: '2019-05-29',
});

async function flow() {
  // 1. A source with the public key (what omise-node does).
  const source = await omise.sources.create({type: 'alipay_hk', amount: 150000, currency: 'SGD', platform_type: 'IOS'});
  assert.match(source.id, /^src_test_/);
  assert.strictEqual(source.flow, 'app_redirect');
  assert.strictEqual(source.platform_type, 'IOS');

  // 2. A charge with it (node's README sends amounts as strings).
  const charge = await omise.charges.create({
    amount: '150000', currency: 'SGD', source: source.id,
    return_uri: 'https://shop.example/orders/1/complete', metadata: {order_id: '1'},
  });
  assert.strictEqual(charge.status, 'pending');
  assert.ok(charge.authorize_uri.startsWith(`http://${host}:80/pay/${charge.id}/`), charge.authorize_uri);

  // 3. Retrieve and list (list parameters go in the query string).
  const again = await omise.charges.retrieve(charge.id);
  assert.strictEqual(again.metadata.order_id, '1');
  const list = await omise.charges.list({limit: 10, order: 'reverse_chronological'});
  assert.strictEqual(list.total, 1);
  assert.strictEqual(list.data[0].id, charge.id);

  // 3b. Search: node encodes list parameters with querystring, which sends nested filters as `filters=`.
  const found = await omise.search.list({scope: 'charge', query: '1', order: 'chronological'});
  assert.strictEqual(found.object, 'search');
  assert.strictEqual(found.total, 1);
  assert.strictEqual(found.data[0].id, charge.id);
  const none = await omise.search.list({scope: 'charge', query: charge.id + ' nowhere'});
  assert.strictEqual(none.total, 0);

  // 4. The payer pays (test mode), through the client's own transport.
  await omiseApi.post({host, scheme: 'http', path: `/charges/${charge.id}/mark_as_paid`, key: process.env.SATANG_SKEY});
  const paid = await omise.charges.retrieve(charge.id);
  assert.strictEqual(paid.status, 'successful');
  assert.strictEqual(paid.paid, true);

  // 5. Events.
  const events = await omise.events.list({limit: 100});
  const keys = events.data.map((e) => e.key);
  assert.deepStrictEqual(keys, ['charge.create', 'charge.complete']);
  const completed = await omise.events.retrieve(events.data[1].id);
  assert.strictEqual(completed.data.status, 'successful');

  // 6. Errors reject with the error object.
  await assert.rejects(omise.charges.retrieve('chrg_test_5zzzzzzzzzzzzzzzzzz'), (e) => e.code === 'not_found');
  await assert.rejects(
    omise.charges.create({amount: 10, currency: 'THB', source: {type: 'alipay'}, return_uri: 'https://shop.example/r'}),
    (e) => e.object === 'error' && e.code === 'invalid_charge',
  );
}

flow().then(() => console.log('node flow ok'), (e) => {
  console.error('FAILED:', e);
  process.exit(1);
});
