-- The prospect list, newest first: a page read from the index in that order, not a sort of the dealership's rows.
-- index: prospect_created
-- params: {}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
ORDER BY created_at DESC, id DESC
LIMIT 51
