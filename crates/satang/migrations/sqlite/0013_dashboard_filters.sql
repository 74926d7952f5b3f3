-- The dashboard's charge list pages by cursor, newest first, through the (account, mode, created_at) index
-- (0001; SQLite appends seq, the rowid). A filter that matches few charges would walk most of that index to
-- fill a page, so each of its filters has its own index with created_at after it: a filtered page, and its
-- count capped at 1,001, are index ranges however few charges match.
create index charges_by_scope_status_time on charges (account_id, livemode, status, created_at);
create index charges_by_scope_method_time on charges (account_id, livemode, json_extract(doc, '$.source.type'), created_at);
create index charges_by_scope_currency_time on charges (account_id, livemode, json_extract(doc, '$.currency'), created_at);
