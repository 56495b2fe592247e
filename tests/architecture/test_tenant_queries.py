"""The scoping rule holds in the source: entry points reach tenant models only through ``visible_to``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.architecture.tenant_queries import REPO_ROOT, check, entry_point_modules, tenant_models

VIEW_READING_PAST_THE_DOOR = """
    from crm.models import Prospect


    def prospect_list(request):
        return Prospect.objects.filter(last_name="Meyer")
"""


def _write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")


def test_no_view_api_admin_or_task_module_queries_a_tenant_model_through_objects() -> None:
    assert [str(v) for v in check()] == []


def test_tenant_models_come_from_the_app_registry() -> None:
    labels = set(tenant_models())
    assert {"crm.Prospect", "crm.Lead", "dealers.Membership", "sync.Destination"} <= labels
    assert "dealers.Dealer" not in labels
    assert "crm.LostReason" not in labels  # network-wide, no dealer


def test_the_real_entry_points_are_checked_and_services_are_not() -> None:
    checked = {path.relative_to(REPO_ROOT).as_posix() for path in entry_point_modules()}
    assert {"crm/api/views.py", "crm/ui/views/prospects.py", "crm/admin.py", "sync/outbound/views.py"} <= checked
    assert {"sync/inbound/api.py", "dealers/api_key_views.py", "ha/tasks.py"} <= checked
    assert "crm/services/tasks.py" not in checked
    assert "crm/selectors.py" not in checked


def test_a_view_that_reads_prospect_objects_fails_naming_file_line_and_the_door(tmp_path: Path) -> None:
    _write(tmp_path, "crm/ui/views/bad.py", VIEW_READING_PAST_THE_DOOR)

    violations = check(tmp_path)

    assert [str(v) for v in violations] == [
        "crm/ui/views/bad.py:6: Prospect.objects.filter(...) reads a tenant model past the scoping rule;"
        " use Prospect.objects.visible_to(viewer) or a selector that takes the viewer"
    ]


def test_the_same_query_in_a_selector_is_not_an_entry_point(tmp_path: Path) -> None:
    _write(tmp_path, "crm/selectors.py", VIEW_READING_PAST_THE_DOOR)

    assert check(tmp_path) == []


def test_visible_to_and_none_are_the_sanctioned_forms(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "crm/api/fine.py",
        """
        from crm.models import Lead, Prospect
        from crm.models import LostReason


        class ProspectList:
            queryset = Prospect.objects.none()

            def get_queryset(self):
                return Prospect.objects.visible_to(self.viewer).filter(last_name="Meyer")


        def reasons():
            return LostReason.objects.all()  # network-wide: not a tenant model
        """,
    )

    assert check(tmp_path) == []


def test_aliases_managers_and_admin_modules_are_caught_with_the_admin_door(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "sync/outbound/admin.py",
        """
        import crm.models
        from sync.models import Destination as Target


        def everything():
            a = Target._default_manager.all()
            b = crm.models.Lead.objects.visible_to
            return a, b
        """,
    )

    found = [(v.line, v.used) for v in check(tmp_path)]

    assert found == [(7, "Target._default_manager.all(...)"), (8, "crm.models.Lead.objects.visible_to(...)")]
    assert "super().get_queryset(request)" in str(check(tmp_path)[0])


def test_a_shortcut_given_the_model_instead_of_a_scoped_queryset_is_caught(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "sync/inbound/views.py",
        """
        from django.shortcuts import get_object_or_404

        from sync.models import ImportRun


        def run_detail(request, viewer, pk):
            fine = get_object_or_404(ImportRun.objects.visible_to(viewer), pk=pk)
            return fine, get_object_or_404(ImportRun, pk=pk)
        """,
    )

    assert [(v.line, v.used) for v in check(tmp_path)] == [(9, "get_object_or_404(ImportRun, ...)")]


def test_the_lint_command_exits_non_zero_and_names_the_offender(tmp_path: Path) -> None:
    _write(tmp_path, "dealers/views.py", VIEW_READING_PAST_THE_DOOR)

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.architecture.tenant_queries", "--root", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "dealers/views.py:6: Prospect.objects.filter(...)" in result.stderr
