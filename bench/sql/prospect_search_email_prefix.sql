-- E-mail search: the addresses that start with what was typed, as a range of the pattern-ops index.
-- index: prospect_email_prefix
-- params: {"prefix": "kunde1234", "upper": "kunde1235", "like": "kunde1234%"}
SELECT id, last_name, first_name
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s::bigint AND merged_into_id IS NULL AND erased_at IS NULL
  AND email_normalized LIKE %(like)s AND email_normalized ~>=~ %(prefix)s AND email_normalized ~<~ %(upper)s
ORDER BY sort_name, id
LIMIT 51
