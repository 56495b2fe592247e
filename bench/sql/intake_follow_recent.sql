-- The same person's intake of the last 72 hours (sync.inbound.routing.follow_recent_intake), by contact keys.
-- && must be an index condition under row-level security (arrayoverlap leakproof, sync 0013).
-- index: intake_doc_contact_keys
-- params: {"keys": ["email:erika.musterfrau@kunde.example", "phone:+4915112345678"]}
SELECT id
FROM sync_intakedocument
WHERE contact_keys && %(keys)s::varchar(260)[] AND status = 'accepted' AND received_at >= now() - interval '72 hours'
