-- The merchant's checkout in a browser (src/checkout): which web origins may use the account's public key
-- (space-separated; null means any, as public keys are meant for browsers), and what payer pages show
-- about the shop (a link back to it and a logo).
alter table accounts add column allowed_origins text;
alter table accounts add column shop_url text;
alter table accounts add column logo_url text;
