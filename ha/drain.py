"""Taking this node out of service and back: the drain flag plus this host's Celery consumers.

``manage.py ha drain|undrain`` and a drain requested in the admin (applied by the node's heartbeat,
ha.nodes) both come here. The scheduler sees the flag on its next tick and lets go of its lease.
"""

from __future__ import annotations

import logging
import socket

from ha.probe import drain_flag

logger = logging.getLogger(__name__)


def drain_node() -> bool:
    """Set the drain flag and stop this host's workers taking new tasks; False when the broker was unreachable."""
    flag = drain_flag()
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()
    return _consume(resume=False)


def undrain_node() -> bool:
    """Clear the drain flag and let this host's workers take tasks again; False when the broker was unreachable."""
    drain_flag().unlink(missing_ok=True)
    return _consume(resume=True)


def _consume(*, resume: bool) -> bool:
    """Stop (or resume) this host's Celery workers taking new tasks; tasks in flight finish."""
    from crm.celery import app

    destination = [f"celery@{socket.gethostname()}"]
    try:
        if resume:
            app.control.add_consumer("celery", destination=destination, reply=False)
        else:
            app.control.cancel_consumer("celery", destination=destination, reply=False)
    except Exception as error:  # broker down: the drain flag still takes the node out
        logger.warning("drain_broker_unreachable", extra={"error": type(error).__name__})
        return False
    return True
