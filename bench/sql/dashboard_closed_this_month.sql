-- The dashboard: the dealership's leads won and lost this month (only this month's closes are read).
-- index: lead_dealer_closed
-- params: {"since": "2026-12-01T00:00:00+01:00"}
SELECT count(stage) FILTER (WHERE stage = 'won') AS won, count(stage) FILTER (WHERE stage = 'lost') AS lost
FROM crm_lead
WHERE dealer_id = %(dealer_id)s::bigint AND closed_at >= %(since)s::timestamptz
