-- The last key of the search's walk in the default order (crm.ui.pagination.keyset_page): the list's 300th
-- row, recently changed first (SEARCH_WALK_FIRST).
-- index: prospect_updated
-- params: {}
SELECT updated_at, id
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
ORDER BY updated_at DESC, id DESC
OFFSET 299 LIMIT 1
