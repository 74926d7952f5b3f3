-- Totals of the default charge and event lists (no from/to) without counting an account's rows on every
-- list, and without a counter row every insert must lock (0004 explains why there is none).
--
-- Each charge or event insert appends one row to list_count_deltas: appends never wait on each other.
-- Housekeeping (the sweeper, on any node) folds them into list_counts in batches: one statement deletes a
-- batch and adds exactly the rows it deleted, so a delta is counted in one table or the other, never both.
-- A reader adds list_counts and the deltas not yet folded in one statement, that is one snapshot, so the
-- total is exact at every moment; it costs a walk of the unfolded deltas, a few seconds' inserts at most.
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
insert into list_counts (account_id, livemode, list, n)
  select account_id, livemode, 'events', count(*) from events group by account_id, livemode;
