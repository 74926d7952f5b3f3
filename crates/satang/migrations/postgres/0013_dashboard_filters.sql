-- The dashboard's charge list pages by cursor, newest first, through the (account, mode, created_at, seq)
-- index (0004). A filter that matches few charges would walk most of that index to fill a page, so each of
-- its filters has its own index with (created_at, seq) after it: a filtered page, and its count capped at
-- 1,001, are index ranges however few charges match. The method and currency are read from the document
-- with the very expressions the store's filters use, so the planner matches them.
-- Building them on a big table outlasts the pool's statement timeout; this transaction has none.
set local statement_timeout = 0;
create index charges_by_scope_status_time on charges (account_id, livemode, status, created_at, seq);
create index charges_by_scope_method_time on charges (account_id, livemode, (doc::jsonb #>> '{source,type}'), created_at, seq);
create index charges_by_scope_currency_time on charges (account_id, livemode, (doc::jsonb ->> 'currency'), created_at, seq);
