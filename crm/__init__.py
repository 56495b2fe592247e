"""Project package: settings, URLs, WSGI and the Celery app, plus the prospect/lead domain."""

from crm.celery import app as celery_app

__all__ = ["celery_app"]
