-- The last key of the search's walk (crm.ui.pagination.keyset_page): the list's 300th row in name order (SEARCH_WALK_FIRST).
-- index: prospect_sort_name
-- params: {}
SELECT sort_name, id
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
ORDER BY sort_name, id
OFFSET 299 LIMIT 1
