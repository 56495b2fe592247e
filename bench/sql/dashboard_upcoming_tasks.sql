-- The dashboard: a manager's tasks of the dealership due in the next two days.
-- index: task_open_due
-- params: {"now": "2026-12-01T00:00:00+00:00"}
SELECT id, due_at
FROM crm_task
WHERE dealer_id = %(dealer_id)s::bigint AND done_at IS NULL
  AND due_at >= %(now)s::timestamptz AND due_at < %(now)s::timestamptz + interval '2 days'
ORDER BY due_at, id
LIMIT 12
