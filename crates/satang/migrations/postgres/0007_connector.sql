-- Live acquirers (src/connector): each account's connector, every call made to it, and each attempt to
-- have a charge paid through it.
--
-- connectors: one per account. merchant_key is the merchant's private key sealed with SATANG_MASTER_KEY
-- (src/connector/vault.rs); provider_public_key verifies the acquirer's answers and notifications.
create table connectors (
    account_id          text primary key,
    provider            text not null,
    client_id           text not null,
    endpoint            text not null,
    key_version         integer not null,
    merchant_key        text not null,
    provider_public_key text not null,
    updated_at          bigint not null
);

-- provider_calls: the log of calls per charge (endpoint, request id, result code, latency; no secrets).
create table provider_calls (
    seq        bigint generated always as identity primary key,
    charge_id  text not null,
    call       text not null,
    created_at bigint not null
);
create index provider_calls_by_charge on provider_calls (charge_id, seq);

-- payment_attempts: one row per request id handed to the acquirer, written before the call so that a
-- crash between the acquirer's answer and satang's commit leaves the request id to inquire about.
-- state: opening (pay sent, answer not stored) | open | closed (final, charge settled or attempt replaced).
create table payment_attempts (
    request_id    text primary key,
    charge_id     text not null,
    attempt       integer not null,
    provider      text not null,
    payment_id    text,
    handoff       text,
    state         text not null,
    created_at    bigint not null,
    next_check_at bigint not null,
    lease_until   bigint not null default 0
);
create unique index payment_attempts_by_charge on payment_attempts (charge_id, attempt);
create index payment_attempts_due on payment_attempts (state, next_check_at);
