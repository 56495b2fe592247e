-- The intake's prospect match (crm.dedupe.find_matches): the e-mail, or the folded last name in the postcode.
-- A dealership's home postcode holds most of its prospects: the name must narrow the index, not filter rows.
-- index: prospect_postcode_name
-- params: {"email": "erika.musterfrau@kunde.example", "postcode": "10115", "name_key": "musterfrau"}
SELECT id
FROM crm_prospect
WHERE dealer_id = %(dealer_id)s AND merged_into_id IS NULL AND erased_at IS NULL
  AND (email_normalized = %(email)s OR (postcode = %(postcode)s AND name_key = %(name_key)s))
ORDER BY CASE WHEN email_normalized = %(email)s THEN 3 ELSE 1 END DESC, updated_at DESC, id
LIMIT 20
