-- Lists page in (created_at, seq) order; these indexes serve that order without a sort and replace the
-- per-seq ones.
--
-- PostgreSQL has no positions like SQLite's 0004: numbering an account's charges 1, 2, 3, … would make every
-- insert of the account queue on one row across all nodes, and so would a counter row (the bench showed
-- creates halving even with a 16-way split counter). Deep offsets there cost a walk of the index range.
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

-- The default charge list's total (no from/to) without counting an account's rows on every list and
-- without a counter row every insert must lock.
--
-- Each charge insert appends one row to list_count_deltas: appends never wait on each other. Housekeeping
-- (the sweeper, on any node) folds them into list_counts in batches: one statement deletes a batch and
-- adds exactly the rows it deleted, so a delta is counted in one table or the other, never both. A reader
-- adds list_counts and the deltas not yet folded in one statement, that is one snapshot, so the total is
-- exact at every moment; it costs a walk of the unfolded deltas, a few seconds' inserts at most.
create table list_counts (
    account_id  text not null,
    livemode    boolean not null,
    list        text not null,
    n           bigint not null,
    primary key (account_id, livemode, list)
);
create table list_count_deltas (
    seq         bigserial primary key,
    account_id  text not null,
    livemode    boolean not null,
    list        text not null
);
create index list_count_deltas_by_scope on list_count_deltas (account_id, livemode, list);
insert into list_counts (account_id, livemode, list, n)
  select account_id, livemode, 'charges', count(*) from charges group by account_id, livemode;
