-- The default event list's total (no from/to) from a counter kept in the same transaction as each event
-- insert, like the charge list's since 0004, instead of counting the account's events on every list.
-- (PostgreSQL's 0005 adds its own form of both counters.)
insert into list_counters (account_id, livemode, list, n)
  select account_id, livemode, 'events', count(*) from events group by account_id, livemode;
