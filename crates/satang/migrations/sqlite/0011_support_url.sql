-- Where a payer asks the shop for help: payer pages show it as "Need help? Contact <shop>" (set in the
-- dashboard's account settings; https, or http on localhost). Null: no link.
alter table accounts add column support_url text;
