-- A charge's source type (`method`) and currency get columns of their own, and its search vector becomes a
-- plain column that satang fills with the charge's searchable text (store::search::charge_text) in the
-- charge's own insert or update statement.
--
-- Why: the 0010 generated column and the 0013 expression indexes parsed the whole JSON document five times
-- for every insert and every update (three `doc::jsonb` in the vector, one in each index), whether or not a
-- searched field had changed: about a fifth of the server's CPU per created charge (issue 15). satang knows
-- all three values when it writes the charge; a status change no longer touches the vector.
-- Rewriting a big table outlasts the pool's statement timeout; this transaction has none.
set local statement_timeout = 0;
drop index charges_by_scope_method_time;
drop index charges_by_scope_currency_time;
alter table charges drop column search;   -- drops its GIN index, charges_search, with it
alter table charges add column method text, add column currency text, add column search tsvector;
-- The vector of existing charges as 0010 computed it.
update charges set method = doc::jsonb #>> '{source,type}', currency = doc::jsonb ->> 'currency',
  search = to_tsvector('simple'::regconfig,
      id || ' ' || coalesce(doc::jsonb ->> 'description', '') || ' ' || coalesce(doc::jsonb #>> '{source,type}', ''))
    || jsonb_to_tsvector('simple'::regconfig, coalesce(doc::jsonb -> 'metadata', '{}'::jsonb), '["string", "numeric"]'::jsonb);
alter table charges alter column method set not null, alter column currency set not null,
  alter column search set not null;
create index charges_search on charges using gin (search);
create index charges_by_scope_method_time on charges (account_id, livemode, method, created_at, seq);
create index charges_by_scope_currency_time on charges (account_id, livemode, currency, created_at, seq);
