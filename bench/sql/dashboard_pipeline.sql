-- The dashboard: the dealership's open leads per stage, from the counts kept as leads change (crm.lead_counts):
-- a few rows per salesperson and stage, not one per open lead.
-- index: lead_count_key
-- params: {}
SELECT stage, sum(leads)
FROM crm_leadstagecount
WHERE dealer_id = %(dealer_id)s::bigint AND stage IN ('new', 'contacted', 'appointment', 'test_drive', 'offer')
GROUP BY stage
