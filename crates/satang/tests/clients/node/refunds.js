// Refunds as a merchant does them with omise-node: partial refund, list, retrieve, refund the remainder,
// and an over-refund rejected. Run by crates/satang/tests/clients.rs (satang on port 80, see flow.js).
'use strict';
const assert = require('assert');
const omiseApi = require('omise/lib/api');

const host = process.env.SATANG_HOST;
const omise = require('omise')({
  publicKey: process.env.SATANG_PKEY,
  secretKey: process.env.SATANG_SKEY,
  host,
  scheme: 'http',
});

async function main() {
  const charge = await omise.charges.create({
    amount: 150000, currency: 'SGD', source: {type: 'alipay_hk'}, return_uri: 'https://shop.example/r',
  });
  await omiseApi.post({host, scheme: 'http', path: `/charges/${charge.id}/mark_as_paid`, key: process.env.SATANG_SKEY});

  const first = await omise.charges.createRefund(charge.id, {amount: 50000});
  assert.match(first.id, /^rfnd_test_/);
  assert.strictEqual(first.amount, 50000);

  const list = await omise.charges.listRefunds(charge.id);
  assert.strictEqual(list.total, 1);
  assert.strictEqual(list.data[0].id, first.id);
  const again = await omise.charges.retrieveRefund(charge.id, first.id);
  assert.strictEqual(again.transaction, first.transaction);

  const rest = await omise.charges.createRefund(charge.id, {amount: 100000});
  assert.strictEqual(rest.amount, 100000);
  const after = await omise.charges.retrieve(charge.id);
  assert.strictEqual(after.refunded_amount, 150000);
  assert.strictEqual(after.refundable, false);

  await assert.rejects(omise.charges.createRefund(charge.id, {amount: 1}), (e) => e.code === 'failed_refund');
  const unchanged = await omise.charges.retrieve(charge.id);
  assert.strictEqual(unchanged.refunded_amount, 150000);
}

main().then(() => console.log('node refunds ok'), (e) => {
  console.error('FAILED:', e);
  process.exit(1);
});
