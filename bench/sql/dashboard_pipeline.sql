-- The dashboard: the dealership's open leads per stage (from the index alone: no heap fetch once vacuumed).
-- index: lead_stage_owner
-- params: {}
SELECT stage, count(*)
FROM crm_lead
WHERE dealer_id = %(dealer_id)s AND stage IN ('new', 'contacted', 'appointment', 'test_drive', 'offer')
GROUP BY stage
