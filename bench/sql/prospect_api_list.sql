-- The API prospect list, a later page: (updated_at, id) after the cursor.
-- index: prospect_updated
-- params: {"updated_at": "2022-06-01T00:00:00+00:00", "id": "00000000-0000-0000-0000-000000000000"}
SELECT id, updated_at
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND (updated_at, id) > (%(updated_at)s::timestamptz, %(id)s::uuid)
ORDER BY updated_at, id
LIMIT 51
