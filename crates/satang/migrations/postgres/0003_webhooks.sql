-- Webhook endpoints, the delivery outbox, and the log of every attempt.

-- A merchant's endpoint, per mode, with its own signing secret (base64; kept in clear because signing
-- needs it). During a roll the previous secret stays valid until previous_until.
create table webhook_endpoints (
    seq             bigserial primary key,
    id              text not null unique,
    account_id      text not null references accounts (id),
    livemode        boolean not null,
    url             text not null,
    secret          text not null,
    previous_secret text,
    previous_until  bigint,
    created_at      bigint not null
);
create index webhook_endpoints_by_scope on webhook_endpoints (account_id, livemode);

-- The secret that signs deliveries to URLs a charge carries itself (`webhook_endpoints` on the charge).
create table webhook_signing (
    account_id      text not null references accounts (id),
    livemode        boolean not null,
    secret          text not null,
    previous_secret text,
    previous_until  bigint,
    created_at      bigint not null,
    primary key (account_id, livemode)
);

-- The outbox: one row per event and target, written in the transaction that writes the event.
create table webhook_deliveries (
    seq             bigserial primary key,
    event_id        text not null,
    account_id      text not null,
    livemode        boolean not null,
    endpoint_id     text,                  -- null for a charge's own URL
    url             text not null,
    state           text not null check (state in ('pending', 'delivered', 'failed')),
    attempts        integer not null default 0,
    next_attempt_at bigint not null,
    locked_until    bigint,               -- a worker's lease while it sends
    created_at      bigint not null,
    finished_at     bigint
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_by_event on webhook_deliveries (event_id);

-- The delivery log: every attempt, whatever came of it.
create table webhook_attempts (
    seq             bigserial primary key,
    id              text not null unique,
    delivery_id     text not null,
    event_id        text not null,
    url             text not null,
    status          integer,               -- the receiver's HTTP status, null when there was none
    error           text,
    duration_ms     bigint not null,
    payload         text not null,
    created_at      bigint not null
);
create index webhook_attempts_by_event on webhook_attempts (event_id, seq);
