-- The intake's choice of salesperson (sync.inbound.routing.choose_salesperson), under the dealership's
-- round-robin lock: each member's open leads, counted up to their capacity, in the one statement.
-- index: lead_open_owner
-- params: {}
SELECT m.id, m.user_id,
       (SELECT count(*) FROM (SELECT 1 FROM (
            SELECT l.id FROM crm_lead l
            WHERE l.dealer_id = %(dealer_id)s AND l.owner_id = m.user_id
              AND l.stage IN ('new', 'contacted', 'appointment', 'test_drive', 'offer')
        ) AS counted LIMIT m.lead_capacity) AS capped) AS open_leads
FROM dealers_membership m
JOIN dealers_user u ON u.id = m.user_id
WHERE m.dealer_id = %(dealer_id)s AND m.role = 'salesperson' AND m.is_active AND u.is_active
ORDER BY m.id
