-- A user made with a generated one-time password (`satang user create` without --password-stdin) must
-- choose their own at first login; the dashboard shows nothing else until they have.
alter table users add column must_change_password boolean not null default false;
