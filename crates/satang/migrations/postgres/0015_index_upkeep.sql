-- list_count_deltas is a queue: one insert per charge or event, deleted in batches by housekeeping. Dead
-- rows pile up until vacuumed, and a list's total walks them. Housekeeping vacuums it after a busy round
-- (store/postgres/lists.rs); these settings let autovacuum, where it runs, come after every thousand
-- dead rows instead of waiting for a fifth of the table. (SQLite's 0015 is about its search index; the
-- versions of the two dialects stay in step.)
-- No truncation: handing back the emptied pages takes an exclusive lock that charge inserts would queue
-- behind, and the next inserts reuse the pages anyway.
alter table list_count_deltas set (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0, vacuum_truncate = false);
