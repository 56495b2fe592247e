"""The Celery app. Settings come from Django's settings under the ``CELERY_`` prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

# Every task passes the scheduler lease fence when beat sent it (ha.fencing).
app = Celery("crm", task_cls="ha.fencing:FencedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
