-- The dashboard: the dealership's new leads still waiting for a first contact, most urgent first.
-- index: lead_dealer_waiting
-- params: {}
SELECT id, first_contact_due_at
FROM crm_lead
WHERE dealer_id = %(dealer_id)s::bigint AND first_contacted_at IS NULL AND stage = 'new'
ORDER BY first_contact_due_at ASC NULLS LAST, created_at, id
LIMIT 12
