-- The dashboard: open leads escalated for a missed first contact and still not contacted, found from the
-- dealership's escalation events; the latest event's level is looked up for those leads only.
-- index: leadevent_escalated
-- params: {}
SELECT l.id,
    (SELECT e.data -> 'level' FROM crm_leadevent e WHERE e.kind = 'escalated' AND e.lead_id = l.id
     ORDER BY e.at DESC, e.id DESC LIMIT 1) AS escalation_level
FROM crm_lead l
WHERE l.dealer_id = %(dealer_id)s::bigint AND l.first_contacted_at IS NULL
  AND l.stage IN ('new', 'contacted', 'appointment', 'test_drive', 'offer')
  AND l.id IN (SELECT lead_id FROM crm_leadevent WHERE dealer_id = %(dealer_id)s::bigint AND kind = 'escalated')
ORDER BY escalation_level DESC, l.first_contact_due_at ASC NULLS LAST, l.id
LIMIT 12
