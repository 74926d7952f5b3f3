-- The search index (0010's charges_search) is written by satang once per write batch, just before the
-- commit (store/sqlite/search.rs, index_charge), instead of by triggers: a trigger on charges gave every
-- charge insert a statement journal, and FTS5 flushed its terms to disk at every statement savepoint.
-- The delete trigger stays (a deleted charge leaves the index with it).
drop trigger charges_search_insert;
drop trigger charges_search_update;
