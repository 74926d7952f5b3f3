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
