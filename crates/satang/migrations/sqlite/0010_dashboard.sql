-- Search (GET /search, the dashboard's search box): a full-text index of each charge's ID, description,
-- metadata values and source type. Triggers keep it, so it changes in the same transaction as the charge
-- and a search finds a charge the moment its creation is acknowledged. Its rowid is the charge's seq.
-- Diacritics are kept (Thai tone marks and vowels are letters, not decorations).
create virtual table charges_search using fts5 (body, tokenize = 'unicode61 remove_diacritics 0');

create trigger charges_search_insert after insert on charges begin
  insert into charges_search (rowid, body) values (new.seq,
    new.id || ' ' || coalesce(json_extract(new.doc, '$.description'), '') || ' ' ||
    coalesce((select group_concat(value, ' ') from json_tree(new.doc, '$.metadata') where atom is not null), '') || ' ' ||
    coalesce(json_extract(new.doc, '$.source.type'), ''));
end;

create trigger charges_search_update after update of doc on charges begin
  update charges_search set body =
    new.id || ' ' || coalesce(json_extract(new.doc, '$.description'), '') || ' ' ||
    coalesce((select group_concat(value, ' ') from json_tree(new.doc, '$.metadata') where atom is not null), '') || ' ' ||
    coalesce(json_extract(new.doc, '$.source.type'), '')
  where rowid = new.seq;
end;

create trigger charges_search_delete after delete on charges begin
  delete from charges_search where rowid = old.seq;
end;

insert into charges_search (rowid, body)
  select seq, id || ' ' || coalesce(json_extract(doc, '$.description'), '') || ' ' ||
    coalesce((select group_concat(value, ' ') from json_tree(doc, '$.metadata') where atom is not null), '') || ' ' ||
    coalesce(json_extract(doc, '$.source.type'), '')
  from charges;

-- Dashboard users: staff of one account, with a role (owner, admin, viewer) and an argon2 password hash.
create table users (
    id            text primary key,
    account_id    text not null references accounts (id),
    email         text not null unique,    -- lowercased
    role          text not null check (role in ('owner', 'admin', 'viewer')),
    password_hash text not null,           -- argon2id PHC string
    created_at    integer not null
);

-- A logged-in browser: only the SHA-256 of the cookie's value is kept, with the session's CSRF token.
create table sessions (
    token_hash  text primary key,
    user_id     text not null references users (id),
    csrf        text not null,
    created_at  integer not null,
    expires_at  integer not null
);
create index sessions_by_user on sessions (user_id);

-- Login attempts per email, for the rate limit (failed ones count) and the audit of who logged in.
create table login_attempts (
    seq         integer primary key,
    email       text not null,
    ok          integer not null,
    at          integer not null
);
create index login_attempts_by_email on login_attempts (email, at);

-- Every change made as a dashboard user (or by `satang user create`): who, what, when. Written in the same
-- transaction as the change.
create table audit_log (
    seq         integer primary key,
    account_id  text not null,
    actor       text not null,             -- the user's email, or "cli"
    action      text not null,
    detail      text not null,
    created_at  integer not null
);
create index audit_log_by_account on audit_log (account_id, seq);

-- Key rolls (`satang key roll`, the dashboard's keys page): a rolled secret key keeps working until
-- expires_at, then is refused; null never expires.
alter table api_keys add column expires_at integer;
