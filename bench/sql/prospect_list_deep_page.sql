-- The UI prospect list, a page deep into the dealership (sorted by name): one row-value comparison.
-- index: prospect_sort_name
-- params: {"sort_name": "meier\tanna", "id": "80000000-0000-0000-0000-000000000000"}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND (sort_name, id) > (%(sort_name)s, %(id)s::uuid)
ORDER BY sort_name, id
LIMIT 51
