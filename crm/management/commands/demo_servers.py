"""``manage.py demo_servers``: the servers the apps run beside the web under ``make run``, as JSON.

An app declares them on its ``AppConfig`` as ``demo_servers = {"name": "package.module"}``; each runs as
``python -m package.module --port N --fd FD``, serving on the listening socket ``FD`` that ``devstack run``
bound (port ``N``) and holds for the whole run. ``devstack run`` asks this command (it never imports an
app), so neither the tooling nor the composition root names an app's server by module or file path.

``--follow``, run on every start once the servers listen, lets each app's ``demo`` module point its demo
data at this run's addresses (``<APP>_<NAME>_URL``): its ``follow_servers() -> str`` returns a summary.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.core.management.base import CommandParser

from crm.management.commands.seed_demo import demo_modules
from dealers.commands import ContractCommand


def demo_servers() -> list[dict[str, str]]:
    """``{"app", "name", "module"}`` for every server an installed app declares, in ``INSTALLED_APPS`` order."""
    return [
        {"app": config.label, "name": name, "module": module}
        for config in apps.get_app_configs()
        for name, module in getattr(config, "demo_servers", {}).items()
    ]


class Command(ContractCommand):
    help = "Print, as JSON, the demo servers the installed apps declare (devstack run starts them)."
    requires_system_checks: Any = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--follow", action="store_true", help="point the demo data at this run's server addresses, then exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["follow"]:
            for app, module in demo_modules():
                if hasattr(module, "follow_servers"):
                    self.stdout.write(f"{app}: {module.follow_servers()}")
            return
        self.stdout.write(json.dumps(demo_servers()))
