-- The UI prospect list, a page deep into the dealership (sorted by name): one row-value comparison.
-- index: prospect_name_keyset
-- params: {"last_name": "Meier", "first_name": "Anna", "id": "80000000-0000-0000-0000-000000000000"}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND (last_name, first_name, id) > (%(last_name)s, %(first_name)s, %(id)s::uuid)
ORDER BY last_name, first_name, id
LIMIT 51
