"""The scheduler lease and the record of periodic runs, which together fence periodic jobs to one node."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone


class SchedulerLease(models.Model):
    """One row: who holds the scheduler lease and its epoch, bumped on every acquisition.

    The lease itself is a PostgreSQL advisory lock held by the scheduler's session on the
    primary; the epoch is the fencing token stamped on every job the holder sends.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    epoch = models.PositiveBigIntegerField(default=0)
    holder = models.CharField(max_length=200, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"epoch {self.epoch} held by {self.holder or 'nobody'}"


class PeriodicRun(models.Model):
    """A periodic job's run for one schedule slot: inserted before the job acts, so each slot runs once."""

    task = models.CharField(max_length=200)
    slot = models.CharField(max_length=64)
    epoch = models.PositiveBigIntegerField()
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["task", "slot"], name="periodic_run_once_per_slot")]
        indexes: ClassVar = [models.Index(fields=["started_at"], name="periodic_run_started")]

    def __str__(self) -> str:
        return f"{self.task}@{self.slot} (epoch {self.epoch})"
