"""Celery tasks of the inbound side."""
