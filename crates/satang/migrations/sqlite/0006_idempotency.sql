-- Idempotency-Key: the response recorded under each key, written in the transaction of the effect it
-- guards (src/store/idempotency.rs). One row per account, mode and key; a row older than a day may be
-- replaced by a new request with the same key, and housekeeping deletes old rows.
create table idempotency_keys (
    account_id  text not null,
    livemode    integer not null,
    key         text not null,
    fingerprint text not null,
    status      integer not null,
    version     text,
    body        blob not null,
    created_at  integer not null,
    primary key (account_id, livemode, key)
);
create index idempotency_keys_by_age on idempotency_keys (created_at);
