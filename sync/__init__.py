"""Lead exchange with dealer systems: intake, routing, outbox relay, webhooks, file exchange, monitoring."""
