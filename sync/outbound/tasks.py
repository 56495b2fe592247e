"""Celery tasks of the outbound side."""
