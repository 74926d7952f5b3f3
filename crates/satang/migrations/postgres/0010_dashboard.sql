-- Search (GET /search, the dashboard's search box): a full-text vector of each charge's ID, description,
-- metadata values and source type. It is a generated column, so PostgreSQL computes it in the same
-- statement (and transaction) as the charge's insert or update, and a search finds a charge the moment its
-- creation is acknowledged. The 'simple' configuration lowercases without stemming or stop words: IDs,
-- order numbers and Thai text are matched as written.
alter table charges add column search tsvector generated always as (
  to_tsvector('simple'::regconfig,
    id || ' ' || coalesce(doc::jsonb ->> 'description', '') || ' ' || coalesce(doc::jsonb #>> '{source,type}', ''))
  || jsonb_to_tsvector('simple'::regconfig, coalesce(doc::jsonb -> 'metadata', '{}'::jsonb), '["string", "numeric"]'::jsonb)
) stored;
create index charges_search on charges using gin (search);

-- Dashboard users: staff of one account, with a role (owner, admin, viewer) and an argon2 password hash.
create table users (
    id            text primary key,
    account_id    text not null references accounts (id),
    email         text not null unique,    -- lowercased
    role          text not null check (role in ('owner', 'admin', 'viewer')),
    password_hash text not null,           -- argon2id PHC string
    created_at    bigint not null
);

-- A logged-in browser: only the SHA-256 of the cookie's value is kept, with the session's CSRF token.
create table sessions (
    token_hash  text primary key,
    user_id     text not null references users (id),
    csrf        text not null,
    created_at  bigint not null,
    expires_at  bigint not null
);
create index sessions_by_user on sessions (user_id);

-- Login attempts per email, for the rate limit (failed ones count) and the audit of who logged in.
create table login_attempts (
    seq         bigserial primary key,
    email       text not null,
    ok          boolean not null,
    at          bigint not null
);
create index login_attempts_by_email on login_attempts (email, at);

-- Every change made as a dashboard user (or by `satang user create`): who, what, when. Written in the same
-- transaction as the change.
create table audit_log (
    seq         bigserial primary key,
    account_id  text not null,
    actor       text not null,             -- the user's email, or "cli"
    action      text not null,
    detail      text not null,
    created_at  bigint not null
);
create index audit_log_by_account on audit_log (account_id, seq);

-- Key rolls (`satang key roll`, the dashboard's keys page): a rolled secret key keeps working until
-- expires_at, then is refused; null never expires.
alter table api_keys add column expires_at bigint;
