-- Lists page in (created_at, seq) order; these indexes serve that order without a sort and replace the
-- per-seq ones.
--
-- PostgreSQL has no positions like SQLite's 0004: a per-account counter row would serialize every insert of
-- an account across all nodes on one row lock. Deep offsets and totals there cost a walk of the index range.
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
