"""The Celery app. Settings come from Django's settings under the ``CELERY_`` prefix."""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

# Every task passes the scheduler lease fence when beat sent it (ha.fencing).
app = Celery("crm", task_cls="ha.fencing:FencedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _start_heartbeat(**_: object) -> None:
    """The worker's main process tells the cluster view it is alive (ha.nodes; off when the period is 0)."""
    from ha.nodes import start_heartbeat

    start_heartbeat("worker")


def forget_broker_connections() -> None:
    """Drop this process's pooled broker connections and producers; the next publish connects anew.

    Celery exposes this only as its after-fork hook; a process that changes ``broker_url`` needs it too.
    """
    app._after_fork()


@contextmanager
def publishing_to(broker_url: str) -> Iterator[None]:
    """This process publishes to ``broker_url`` inside the block (e.g. a test's private Redis), then as before."""
    previous = app.conf.broker_url
    app.conf.broker_url = broker_url
    forget_broker_connections()
    try:
        yield
    finally:
        app.conf.broker_url = previous
        forget_broker_connections()
