-- Lists page in (created_at, seq) order; these indexes serve that order without a sort and replace the
-- per-seq ones.
--
-- PostgreSQL has no positions like SQLite's 0004: numbering an account's charges 1, 2, 3 would serialize every
-- insert of the account across all nodes. Its totals come from sharded counters (below); deep offsets cost a
-- walk of the index range.
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

create table list_counters (
    account_id  text not null,
    livemode    boolean not null,
    list        text not null,
    shard       smallint not null,
    n           bigint not null,
    primary key (account_id, livemode, list, shard)
);
insert into list_counters (account_id, livemode, list, shard, n)
  select account_id, livemode, 'charges', 0, count(*) from charges group by account_id, livemode;
