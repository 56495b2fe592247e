-- The lead inbox: the dealership's open leads, newest first.
-- index: lead_created_keyset
-- params: {}
SELECT id, created_at
FROM crm_lead
WHERE dealer_id = %(dealer_id)s::bigint AND stage IN ('new', 'contacted', 'appointment', 'test_drive', 'offer')
ORDER BY created_at DESC, id DESC
LIMIT 51
