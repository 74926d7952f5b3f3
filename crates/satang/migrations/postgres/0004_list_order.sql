-- Lists page in (created_at, seq) order; these indexes serve that order without a sort and replace the
-- per-seq ones.
--
-- PostgreSQL has no positions or list counter like SQLite's 0004: numbering an account's charges, or keeping
-- their count in a row, would make every insert of the account queue on that row across all nodes (the bench
-- showed creates halving with even a 16-way split counter). Totals and deep offsets there cost a walk of the
-- index range.
create index charges_by_scope_time_seq on charges (account_id, livemode, created_at, seq);
create index events_by_scope_time_seq on events (account_id, livemode, created_at, seq);
create index refunds_by_scope_time_seq on refunds (account_id, livemode, created_at, seq);
create index ledger_by_scope_time_seq on ledger (account_id, livemode, created_at, seq);
drop index charges_by_scope;
drop index charges_by_scope_time;
drop index events_by_scope;
drop index events_by_scope_time;
drop index refunds_by_scope;
drop index ledger_by_scope;

-- Running totals are split over 16 rows per key, a random one taking each increment, so concurrent
-- transactions (from any number of nodes) do not queue on one row lock; readers add the shards up.
-- SQLite has a single writer and needs no such split.
alter table balances add column shard smallint not null default 0;
alter table balances drop constraint balances_pkey;
alter table balances add primary key (account_id, livemode, currency, shard);

