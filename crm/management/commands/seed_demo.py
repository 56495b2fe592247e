"""``manage.py seed_demo [--seed N] [--dealers 450] [--print-logins]``: demo data, then the logins to try it with.

Every installed app with a ``demo`` module contributes, in ``INSTALLED_APPS`` order (``dealers`` first: the
others build on its network). Its ``seed(*, rng, options) -> DemoResult | None`` runs
(``dealers.demo.DemoResult``: a summary line and logins); it may also offer ``add_arguments(parser)`` for
options of its own and ``logins(*, options) -> list[Login]`` for ``--print-logins``. The modules are found
by app discovery, as Django finds ``admin`` modules, so this command names no app and never imports
``sync`` from ``crm`` code. Every app gets its own random generator derived from the seed, so one app
drawing more numbers does not change another app's data.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.utils.module_loading import module_has_submodule

from dealers.commands import ContractCommand
from dealers.demo import DEFAULT_DEALERS, DEMO_PASSWORD, MAX_DEALERS, DemoResult, Login, demo_rng

DEMO_MODULE = "demo"
DEFAULT_SEED = 42


def demo_modules() -> Iterator[tuple[str, ModuleType]]:
    """``(app label, <app>.demo)`` for every installed app that has one; a failing import inside one still fails."""
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, DEMO_MODULE):
            yield config.label, importlib.import_module(f"{config.name}.{DEMO_MODULE}")


class Command(ContractCommand):
    help = "Load idempotent demo data (dealer network, then each app's own) and print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed; the same seed, the same data")
        parser.add_argument(
            "--dealers", type=int, default=DEFAULT_DEALERS, help=f"number of dealerships, 1-{MAX_DEALERS}"
        )
        parser.add_argument("--print-logins", action="store_true", help="only print the logins, load nothing")
        parser.add_argument("--allow-production", action="store_true", help="seed even though DJANGO_ENV is production")
        for _app, module in demo_modules():
            if hasattr(module, "add_arguments"):
                module.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["dealers"] <= MAX_DEALERS:
            raise CommandError(f"--dealers must be between 1 and {MAX_DEALERS}, not {options['dealers']}")
        if options["print_logins"]:
            self._print_logins(self._collect_logins(options))
            return
        if getattr(settings, "PRODUCTION", False) and not options["allow_production"]:
            raise CommandError("refusing to load demo users with a published password into production")
        logins: list[Login] = []
        for app, module in demo_modules():
            started = time.monotonic()
            result: DemoResult | None = module.seed(rng=demo_rng(seed=options["seed"], app=app), options=options)
            if result is not None:
                self.stdout.write(f"{app}: {result.summary} ({time.monotonic() - started:.1f} s)")
                logins += result.logins
        self._print_logins(logins)

    def _collect_logins(self, options: dict[str, Any]) -> list[Login]:
        return [
            login
            for _app, module in demo_modules()
            if hasattr(module, "logins")
            for login in module.logins(options=options)
        ]

    def _print_logins(self, logins: list[Login]) -> None:
        if not logins:
            self.stdout.write("No demo logins found; run manage.py seed_demo to load the demo data.")
            return
        rows = [("Role", "Email", "Password"), *((x.role, x.email, x.password) for x in logins)]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        self.stdout.write(f"\nDemo logins (every demo user's password is {DEMO_PASSWORD}):")
        for i, row in enumerate(rows):
            self.stdout.write(
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
            if i == 0:
                self.stdout.write("  " + "  ".join("-" * width for width in widths))
        self.stdout.write(
            "Manufacturer logins (the admin site) set up an authenticator app at their first sign-in;"
            " any TOTP app works, e.g. `oathtool --totp -b KEY` with the key shown on that page."
        )
