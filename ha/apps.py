from django.apps import AppConfig
from django.conf import settings


class HaConfig(AppConfig):
    name = "ha"
    verbose_name = "High availability"

    def ready(self) -> None:
        tune_pool_reconnects(
            first_pause=settings.HA_POOL_RECONNECT_FIRST_PAUSE, backoff=settings.HA_POOL_RECONNECT_BACKOFF
        )


def tune_pool_reconnects(*, first_pause: float, backoff: float) -> None:
    """How soon the connection pool tries again to replace connections to a database that went away.

    psycopg_pool retries a failed connect after 1 s, then doubles the pause (2, 4, 8 s ...) until its
    ``reconnect_timeout``. During a failover every pooled connection breaks at once, so requests waited
    on an empty pool for up to 7 s after a 5 s switchover, although the whole-transaction retry
    (ha.retry) was ready within half a second. The pool has no option for it: its pauses are class
    constants of ``AttemptWithBackoff``, set here once per process.
    """
    from psycopg_pool.base import AttemptWithBackoff

    AttemptWithBackoff.INITIAL_DELAY = first_pause
    AttemptWithBackoff.DELAY_BACKOFF = backoff
