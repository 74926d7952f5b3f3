-- Lists page in (created_at, seq) order, which the (account, mode, created_at) indexes serve directly
-- (SQLite appends the rowid, seq, to every index), so the per-seq list indexes go.
--
-- The default charge list (no from/to) also has positions: pos numbers an account's charges per mode
-- 1, 2, 3, … in insertion order, so any page of it, however deep, is an index range, and its total is a
-- counter kept in the same transaction as the insert.
alter table charges add column pos integer;
update charges set pos = r.rn
  from (select seq, row_number() over (partition by account_id, livemode order by seq) as rn from charges) as r
  where r.seq = charges.seq;
create unique index charges_by_scope_pos on charges (account_id, livemode, pos);

create table list_counters (
    account_id  text not null,
    livemode    integer not null,
    list        text not null,
    n           integer not null,
    primary key (account_id, livemode, list)
);
insert into list_counters (account_id, livemode, list, n)
  select account_id, livemode, 'charges', count(*) from charges group by account_id, livemode;

drop index charges_by_scope;
drop index events_by_scope;
drop index refunds_by_scope;
drop index ledger_by_scope;
create index refunds_by_scope_time on refunds (account_id, livemode, created_at);
create index ledger_by_scope_time on ledger (account_id, livemode, created_at);
