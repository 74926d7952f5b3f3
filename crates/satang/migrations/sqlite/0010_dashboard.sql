-- Search (GET /search, the dashboard's search box): a full-text index of each charge's ID, description,
-- metadata values and source type. Triggers keep it, so it changes in the same transaction as the charge
-- and a search finds a charge the moment its creation is acknowledged. Its rowid is the charge's seq.
-- Diacritics are kept (Thai tone marks and vowels are letters, not decorations).
create virtual table charges_search using fts5 (body, tokenize = 'unicode61 remove_diacritics 0');

create trigger charges_search_insert after insert on charges begin
  insert into charges_search (rowid, body) values (new.seq,
    new.id || ' ' || coalesce(json_extract(new.doc, '$.description'), '') || ' ' ||
    coalesce((select group_concat(value, ' ') from json_tree(new.doc, '$.metadata') where atom is not null), '') || ' ' ||
    coalesce(json_extract(new.doc, '$.source.type'), ''));
end;

create trigger charges_search_update after update of doc on charges begin
  update charges_search set body =
    new.id || ' ' || coalesce(json_extract(new.doc, '$.description'), '') || ' ' ||
    coalesce((select group_concat(value, ' ') from json_tree(new.doc, '$.metadata') where atom is not null), '') || ' ' ||
    coalesce(json_extract(new.doc, '$.source.type'), '')
  where rowid = new.seq;
end;

create trigger charges_search_delete after delete on charges begin
  delete from charges_search where rowid = old.seq;
end;

insert into charges_search (rowid, body)
  select seq, id || ' ' || coalesce(json_extract(doc, '$.description'), '') || ' ' ||
    coalesce((select group_concat(value, ' ') from json_tree(doc, '$.metadata') where atom is not null), '') || ' ' ||
    coalesce(json_extract(doc, '$.source.type'), '')
  from charges;
