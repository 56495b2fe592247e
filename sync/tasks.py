"""Celery discovers tasks here; they live beside each side of the exchange."""

from sync.inbound.tasks import *  # noqa: F403
from sync.outbound.tasks import *  # noqa: F403
