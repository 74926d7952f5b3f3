-- A charge's source type (`method`) and currency get columns of their own, written with the charge; the
-- dashboard's filters and their indexes (0013) use them instead of `json_extract` on the document.
--
-- Why: an index on an expression of `doc` evaluates it, parsing the whole JSON document, on every insert
-- and on every update of the document (each status change), whether or not the value changed (issue 15).
drop index charges_by_scope_method_time;
drop index charges_by_scope_currency_time;
alter table charges add column method text not null default '';
alter table charges add column currency text not null default '';
update charges set method = coalesce(json_extract(doc, '$.source.type'), ''),
  currency = coalesce(json_extract(doc, '$.currency'), '');
create index charges_by_scope_method_time on charges (account_id, livemode, method, created_at);
create index charges_by_scope_currency_time on charges (account_id, livemode, currency, created_at);
