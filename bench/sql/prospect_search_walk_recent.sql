-- The prospect list's search in its default order, recently changed first (crm.ui.pagination.keyset_page):
-- the next 300 rows of the list in that order, down to the last one's key (prospect_search_walk_recent_edge),
-- tested one by one until a page of matches is found. In this order a word's matches are spread through
-- the list, so a common word ends the walk within a few hundred rows.
-- index: prospect_updated
-- settings: {"enable_bitmapscan": "off"}
-- params: {"pattern": "%schmi%", "word": "schmi", "edge_at": "2000-01-01T00:00:00+00:00", "edge_id": "00000000-0000-0000-0000-000000000000"}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND (search_text LIKE %(pattern)s OR search_text %%> %(word)s)
  AND (updated_at, id) >= (%(edge_at)s::timestamptz, %(edge_id)s::uuid)
ORDER BY updated_at DESC, id DESC
LIMIT 51
