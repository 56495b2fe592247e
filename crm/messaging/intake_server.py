"""``python -m crm.messaging.intake_server --port N [--fd FD]``: the reply intake as a ``make run`` demo server.

``devstack run`` starts it beside the web (``MessagingConfig.demo_servers``, docs/development.md) on the
listening socket ``FD`` it bound and holds (port ``N``), with the environment of web and worker: Django
settings from ``DJANGO_SETTINGS_MODULE`` and the application role's ``DATABASE_URL``, so row-level security
applies as for ``manage.py mail_intake``, whose server this runs (``crm.messaging.intake.serve``). Without
``--fd`` it binds ``--host``:``--port`` itself. Exit code 2 (one line) without ``CRM_INBOUND_MAIL_DOMAIN``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm.messaging.intake_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (without --fd)")
    parser.add_argument("--port", type=int, default=2525, help="port to listen on (without --fd)")
    parser.add_argument(
        "--fd",
        type=int,
        default=None,
        help="serve on this inherited listening socket instead of binding --port (devstack run holds the port)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()

    from crm.messaging.intake import serve
    from crm.messaging.services import inbound_domain

    if not inbound_domain():
        sys.stderr.write("CRM_INBOUND_MAIL_DOMAIN is not set: no address to take mail for\n")
        return 2
    listening = socket.socket(fileno=args.fd) if args.fd is not None else None
    serve(host=args.host, port=args.port, sock=listening, announce=_announce)
    return 0


def _announce(line: str) -> None:
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
