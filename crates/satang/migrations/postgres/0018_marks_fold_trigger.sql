-- The list marks' part of housekeeping's fold (0017) moves into a trigger on list_count_deltas, so that a
-- fold keeps the marks exact whichever version of satang runs it. Under 0017 a node of an older version,
-- still running during a rolling upgrade, folded deltas with its own statement, which neither took the
-- marks lock nor added late rows to the marks after them: a mark could end up short by those rows.
--
-- The trigger runs once per deleting statement with the deleted rows (a transition table), after the
-- delete, in the deleting transaction:
--   * it takes the marks lock (the advisory lock that the mark writer holds, store/postgres/lists.rs), so a
--     mark is never written from deltas that a fold is deleting, and its statements, each with a snapshot
--     taken after the lock, see every mark written before it;
--   * a deleted delta without a key (a node older than 0017) drops its list's marks, to be written again;
--   * every mark at or after a deleted delta's key gains one in `base`. Only deltas at or before their
--     list's last mark (late rows, or rows unfolded when the mark was written) are joined to the marks.
-- Which fold it is, when the marks lock is already held:
--   * satang from 0018 on takes the lock before it deletes (so it never holds deleted rows while waiting for
--     the lock, which a fold holding the lock could be waiting for: a deadlock) and says, with the
--     transaction's `satang.marks_by` setting, that it leaves the marks to this trigger;
--   * a node of 0017's version also holds the lock, without that setting, and has adjusted the marks in its
--     own fold statement: the trigger leaves them alone (this case can go once no 0017 node can run).
-- A node older than 0017 takes no lock; the trigger takes it after that node's delete, so such a fold can
-- deadlock with a newer one while both versions run: PostgreSQL aborts one, which folds again next round.
create function list_marks_fold() returns trigger language plpgsql as $$
begin
    -- A fold's last round often deletes nothing: then it need not wait for the lock.
    if not exists (select 1 from gone) then
        return null;
    end if;
    if coalesce(current_setting('satang.marks_by', true), '') <> 'trigger'
       and exists (select 1 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()
                   and classid = 0 and objid = 7263471 and objsubid = 1 and granted) then
        return null;
    end if;
    perform pg_advisory_xact_lock(7263471);
    delete from list_marks m
     using (select distinct account_id, livemode, list from gone where created_at is null) u
     where m.account_id = u.account_id and m.livemode = u.livemode and m.list = u.list;
    with lists as (select distinct account_id, livemode, list from gone where created_at is not null),
    tops as (select s.account_id, s.livemode, s.list, l.created_at, l.seq from lists s
        cross join lateral (select created_at, seq from list_marks m where m.account_id = s.account_id
            and m.livemode = s.livemode and m.list = s.list order by created_at desc, seq desc limit 1) l),
    late as (select g.account_id, g.livemode, g.list, g.created_at, g.item_seq from gone g join tops t
        on t.account_id = g.account_id and t.livemode = g.livemode and t.list = g.list
        where (g.created_at, g.item_seq) <= (t.created_at, t.seq)),
    bumps as (select m.account_id, m.livemode, m.list, m.created_at, m.seq, count(*) as n
        from late g join list_marks m on m.account_id = g.account_id and m.livemode = g.livemode
            and m.list = g.list and (m.created_at, m.seq) >= (g.created_at, g.item_seq)
        group by m.account_id, m.livemode, m.list, m.created_at, m.seq)
    update list_marks m set base = m.base + b.n from bumps b
     where m.account_id = b.account_id and m.livemode = b.livemode and m.list = b.list
       and m.created_at = b.created_at and m.seq = b.seq;
    return null;
end
$$;

create trigger list_marks_fold after delete on list_count_deltas
    referencing old table as gone for each statement execute function list_marks_fold();
