-- The change feed: the dealership's changes after a cursor, in commit order.
-- index: change_feed
-- params: {"txid": 0, "id": 0}
SELECT id, txid, type, object_id
FROM crm_change
WHERE dealer_id = %(dealer_id)s::bigint AND (txid, id) > (%(txid)s, %(id)s)
ORDER BY txid, id
LIMIT 100
