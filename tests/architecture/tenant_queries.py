"""The scoping rule, enforced on the source: entry points never query a tenant model through ``.objects``.

``python -m tests.architecture.tenant_queries`` (``make lint``; ``test_tenant_queries.py`` runs it in
``make test``) fails when a view, API, admin or task module reads a *tenant model* (every model with a
foreign key to ``dealers.Dealer``, taken from the app registry) through its manager other than

- ``Model.objects.visible_to(viewer)``: the one door to dealer data (``dealers/scoping.py``), or
- ``Model.objects.none()``: no rows at all (e.g. a DRF view's ``queryset`` placeholder);

and ``get_object_or_404``/``get_list_or_404`` get a scoped queryset, never the model class.

Anything else goes through a selector that takes the viewer (``crm.selectors``, ``dealers.selectors``...)
or a service. The admin site reads through ``ModelAdmin.get_queryset`` (``super().get_queryset(request)``),
which runs in the audited manufacturer-wide scope the admin middleware sets (``dealers.rls``); tasks
call services, which run under ``rls.manufacturer_wide``/``rls.dealer_scope`` (``ha.fencing.FencedTask``).
See docs/architecture.md, "Rules that hold everywhere".

What it cannot see: a model held in a variable (``for model in (Activity, Task): model.objects...``).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
APPS = ("crm", "dealers", "sync", "ha")
MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
SANCTIONED = frozenset({"visible_to", "none"})
# Django shortcuts that, given a model class instead of a queryset, read through its default manager.
SHORTCUTS = frozenset({"get_object_or_404", "get_list_or_404"})

# Module kinds that answer a request or run a job: ``fnmatch`` patterns (``*`` spans folders too) relative to
# the repository root.
ENTRY_POINT_PATTERNS = (
    "*/ui/views/*.py",
    "*/api/*.py",
    "*/views.py",
    "*_views.py",
    "*/api.py",
    "*/admin.py",
    "*/tasks.py",
)
# ``crm/services/tasks.py`` is the service for the CRM's to-do items, not a Celery task module.
NOT_ENTRY_POINTS = ("*/services/*", "*/migrations/*")

ALTERNATIVE = {
    "admin": "super().get_queryset(request) (the admin site's manufacturer-wide door, dealers.rls)",
    "task": "a service or selector (tasks run under rls.manufacturer_wide or rls.dealer_scope)",
    "entry": "{model}.objects.visible_to(viewer) or a selector that takes the viewer",
}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    model: str  # as the module names it
    used: str  # e.g. ``Prospect.objects.filter(...)``
    kind: str

    def __str__(self) -> str:
        alternative = ALTERNATIVE[self.kind].format(model=self.model)
        return f"{self.path}:{self.line}: {self.used} reads a tenant model past the scoping rule; use {alternative}"


def tenant_models() -> dict[str, type[Any]]:
    """``{"app_label.Model": model}`` for every model with a foreign key to ``dealers.Dealer``."""
    from django.apps import apps

    dealer = apps.get_model("dealers", "Dealer")
    return {
        model._meta.label: model
        for model in apps.get_models()
        if any(field.is_relation and field.related_model is dealer for field in model._meta.concrete_fields)
    }


def entry_point_modules(root: Path = REPO_ROOT, apps: Iterable[str] = APPS) -> list[Path]:
    """The view, API, admin and task modules of ``apps`` under ``root``."""
    found: set[Path] = set()
    for app in apps:
        for path in (root / app).rglob("*.py"):
            relative = path.relative_to(root).as_posix()
            if any(fnmatch(relative, p) for p in ENTRY_POINT_PATTERNS) and not any(
                fnmatch(relative, p) for p in NOT_ENTRY_POINTS
            ):
                found.add(path)
    return sorted(found)


def module_kind(relative: str) -> str:
    name = PurePosixPath(relative).name
    return {"admin.py": "admin", "tasks.py": "task"}.get(name, "entry")


def _resolve(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _tenant_names(tree: ast.AST, tenants: dict[type[Any], str]) -> dict[str, str]:
    """Local names the module's imports (anywhere in it) bind to tenant models or to modules holding them."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                target = _resolve(node.module, alias.name)
                if isinstance(target, type) and target in tenants:
                    names[alias.asname or alias.name] = tenants[target]
    return names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _shortcut(call: ast.Call) -> str | None:
    name = (_dotted(call.func) or "").rpartition(".")[2]
    return name if name in SHORTCUTS else None


def check_source(source: str, relative: str, tenants: dict[str, type[Any]] | None = None) -> list[Violation]:
    """Every tenant-manager use in one module's ``source`` that is not ``visible_to(...)`` or ``none()``."""
    tenants = tenant_models() if tenants is None else tenants
    by_class = {model: label for label, model in tenants.items()}
    tree = ast.parse(source, filename=relative)
    imported = _tenant_names(tree, by_class)
    # Models defined in the module itself, or named as ``module.Model`` after ``import package.module``.
    class_names = {model.__name__: label for label, model in tenants.items()}
    dotted_names = {f"{model.__module__}.{model.__name__}": label for label, model in tenants.items()}
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    kind = module_kind(relative)

    def tenant(node: ast.expr) -> str | None:
        """How the module names a tenant model at ``node``, or None."""
        name = _dotted(node)
        if name is not None and (name in imported or name in class_names or name in dotted_names):
            return name
        return None

    violations = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in MANAGERS and (model := tenant(node.value)):
            parent = parents.get(node)
            method = parent.attr if isinstance(parent, ast.Attribute) else None
            call = parents.get(parent) if method is not None else None
            if method in SANCTIONED and isinstance(call, ast.Call) and call.func is parent:
                continue
            used = f"{model}.{node.attr}" + (f".{method}(...)" if method else "")
            violations.append(Violation(relative, node.lineno, model, used, kind))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and (shortcut := _shortcut(node))
            and (model := tenant(node.args[0]))
        ):
            violations.append(Violation(relative, node.lineno, model, f"{shortcut}({model}, ...)", kind))
    return sorted(violations, key=lambda v: v.line)


def check(root: Path = REPO_ROOT, apps: Iterable[str] = APPS) -> list[Violation]:
    tenants = tenant_models()
    violations: list[Violation] = []
    for path in entry_point_modules(root, apps):
        relative = path.relative_to(root).as_posix()
        violations += check_source(path.read_text(encoding="utf-8"), relative, tenants)
    return violations


def _setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the tree to check (default: this repository)")
    args = parser.parse_args(argv)
    _setup_django()
    violations = check(args.root)
    for violation in violations:
        sys.stderr.write(f"{violation}\n")
    if violations:
        sys.stderr.write(f"{len(violations)} tenant queries past the scoping rule (docs/architecture.md)\n")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
