-- The prospect list's search sorted by name, first step (crm.ui.pagination.keyset_page): the next 300
-- rows of the list in name order, up to the last one's key (found by prospect_search_walk_edge), tested
-- one by one until a page of matches is found. A common word ends it within a few hundred rows.
-- index: prospect_sort_name
-- settings: {"enable_bitmapscan": "off"}
-- params: {"pattern": "%schmi%", "word": "schmi", "edge_name": "adam\tzora", "edge_id": "ffffffff-ffff-ffff-ffff-ffffffffffff"}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND (search_text LIKE %(pattern)s OR search_text %%> %(word)s)
  AND (sort_name, id) <= (%(edge_name)s, %(edge_id)s::uuid)
ORDER BY sort_name, id
LIMIT 51
