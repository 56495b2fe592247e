-- The prospect list searched for a name (UI, sorted by name): every word as a substring or by word similarity.
-- The matches beyond what the walk found, read and sorted (crm.ui.pagination._sorted_matches), with plain
-- index scans off as the application runs it: no index gives the order, so every plan reads all matches.
-- index: prospect_search
-- settings: {"enable_indexscan": "off"}
-- params: {"pattern": "%schmi%", "word": "schmi"}
-- A search nobody matches (the issue's 3.0 s at 1M rows): the index must say so without visiting rows.
-- params as prospect_search_no_match: {"pattern": "%xyzqwv%", "word": "xyzqwv"}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND (search_text LIKE %(pattern)s OR search_text %%> %(word)s)
ORDER BY COALESCE(sort_name, sort_name), id
LIMIT 51
