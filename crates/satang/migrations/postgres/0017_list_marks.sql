-- Deep pages of the whole charge and event lists without walking the offset (issue 15: a page at offset
-- 500,000 of 1M charges walked half a million index entries, 0.1 s at best).
--
-- A list mark remembers one row of a scope's list, every few thousand rows (PgOptions::list_mark_spacing),
-- by its list key (created_at, seq), with `base`: how many rows of the list up to and including that key
-- have been folded into list_counts. A row's rank in the list is then the base of the last mark at or
-- before it, plus the unfolded deltas at or before that mark, plus a walk of at most a spacing's rows from
-- the mark (store/postgres/lists.rs). The marks stay exact without any insert touching them:
--   * each delta now carries its row's list key, so a reader counts the unfolded rows before a mark;
--   * housekeeping's fold adds to every mark at or after a folded delta's key as it deletes the delta (a
--     charge created with an earlier time than a mark's, say by another node's clock, moves the marks
--     after it), and new marks are written after the last one; both hold one advisory lock, so a mark is
--     never computed from deltas that a concurrent fold is deleting;
--   * a delta without a key (written by a node of an older version during an upgrade) leaves its scope
--     without marks: readers walk, and the fold that meets it drops the scope's marks to be rebuilt.
-- SQLite numbers its charges (0004's positions) and has no such table; its 0017 is empty, the two
-- dialects' versions stay in step.
alter table list_count_deltas add column created_at bigint, add column item_seq bigint;

create table list_marks (
    account_id  text not null,
    livemode    boolean not null,
    list        text not null,
    created_at  bigint not null,
    seq         bigint not null,
    base        bigint not null,
    primary key (account_id, livemode, list, created_at, seq)
);
