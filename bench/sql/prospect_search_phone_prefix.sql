-- Phone search: phone or mobile numbers (E.164) that start with the number typed, within the dealership.
-- index: prospect_phone_prefix
-- params: {"prefix": "+49300001234", "upper": "+49300001235", "like": "+49300001234%"}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND ((phone LIKE %(like)s AND phone ~>=~ %(prefix)s AND phone ~<~ %(upper)s)
    OR (mobile LIKE %(like)s AND mobile ~>=~ %(prefix)s AND mobile ~<~ %(upper)s))
ORDER BY sort_name, id
LIMIT 51
