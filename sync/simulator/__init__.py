"""A simulated dealer system (DMS) that receives our webhooks: ``python -m sync.simulator --port 8700``.

It verifies Standard Webhooks signatures, dedupes by ``webhook-id``, applies an update only when
``data.version`` is newer than what it holds, and can be told to fail, be slow or be down.
Inspect it with ``GET /_state``; steer it with ``POST /_control``. See docs/sync.md.
"""

# The secret the demo destinations (sync.demo) sign with and the simulator accepts by default.
DEMO_SECRET = "whsec_ZGVhbGVyLWNybS1kZW1vLXNpbXVsYXRvci1zZWNyZXQ="  # noqa: S105 -- a public demo value
