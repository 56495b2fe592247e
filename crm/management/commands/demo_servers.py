"""``manage.py demo_servers``: the servers the apps run beside the web under ``make run``, as JSON.

An app declares them on its ``AppConfig`` as ``demo_servers = {"name": "package.module"}``; each runs as
``python -m package.module --port N``. ``devstack run`` asks this command (it never imports an app), so
neither the tooling nor the composition root names an app's server by module or file path.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps

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

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(demo_servers()))
