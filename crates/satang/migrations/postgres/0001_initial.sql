-- Accounts, keys, sources, charges and events.
-- Objects are stored as a JSON document (`doc`) of the domain type plus the columns that queries filter,
-- sort or join on. `seq` is the insertion order and the list order; IDs are unique but not sequential.

create table accounts (
    id          text primary key,
    name        text not null,
    created_at  bigint not null,
    api_version text not null
);

create table api_keys (
    hash        text primary key,          -- sha256 hex of the whole key
    account_id  text not null references accounts (id),
    livemode    boolean not null,
    kind        text not null check (kind in ('public', 'secret')),
    public_key  text,                      -- only public keys are kept in clear
    hint        text not null,
    created_at  bigint not null
);

create table fee_schedules (
    account_id  text not null references accounts (id),
    method      text not null,
    currency    text not null,
    schedule    text not null,             -- FeeSchedule as JSON
    updated_at  bigint not null,
    primary key (account_id, method, currency)
);

create table sources (
    seq         bigserial primary key,
    id          text not null unique,
    account_id  text not null,
    livemode    boolean not null,
    charge_id   text,                      -- set once, by the charge that uses the source
    created_at  bigint not null,
    doc         text not null
);

create table charges (
    seq         bigserial primary key,
    id          text not null unique,
    account_id  text not null,
    livemode    boolean not null,
    status      text not null,
    created_at  bigint not null,
    expires_at  bigint not null,
    version     bigint not null,
    doc         text not null
);
create index charges_by_scope on charges (account_id, livemode, seq);
create index charges_by_scope_time on charges (account_id, livemode, created_at);
create index charges_pending_by_expiry on charges (expires_at) where status = 'pending';

create table events (
    seq         bigserial primary key,
    id          text not null unique,
    account_id  text not null,
    livemode    boolean not null,
    key         text not null,
    charge_id   text,
    created_at  bigint not null,
    data        text not null
);
create index events_by_scope on events (account_id, livemode, seq);
create index events_by_scope_time on events (account_id, livemode, created_at);
create index events_by_charge on events (charge_id, seq) where charge_id is not null;
