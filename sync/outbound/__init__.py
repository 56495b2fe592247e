"""Delivery of the change log to dealer systems: relay, webhooks, file drops, operations, metrics."""
