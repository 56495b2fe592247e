"""Development stack for ``make run`` and ``make test`` (docs/development.md).

Finds or starts PostgreSQL and Redis, in this order for each of them: the URL from the
environment, a server on localhost that lets us in without a password, a private instance
under ``.var/`` from installed binaries, an embedded server from a pip package. It then
supervises web, worker and scheduler in the foreground.

Pure Python on purpose: nothing here imports Django, so the stack can be brought up before
the settings (which read ``DATABASE_URL``) are loaded, and every Django step runs as a child
process of ``manage.py``.
"""
