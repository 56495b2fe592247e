"""Tasks: what is due, overdue or done; mark done in one click."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.filters import TaskFilterSet
from crm.selectors import tasks_for
from crm.services import tasks as task_services
from crm.ui.forms import TaskForm, apply_service_error
from crm.ui.pagination import keyset_page
from crm.ui.views.common import actor, done, is_htmx, render_page_or_partial, viewer, viewer_filterset
from dealers.access import membership_required
from dealers.forms import bound_form

TASK_SORTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "due": (gettext_lazy("Due first"), ("due_at", "id")),
    "latest": (gettext_lazy("Latest due first"), ("-due_at", "-id")),
}


@membership_required()
def task_list(request: HttpRequest) -> HttpResponse:
    """Open tasks by due time (overdue first), filters for assignee, overdue and done; add a task."""
    membership = viewer(request)
    data = request.GET.copy()
    if "done" not in data:
        data["done"] = "false"
    queryset = tasks_for(membership).select_related("prospect", "lead", "assignee")
    filterset = viewer_filterset(request, TaskFilterSet, queryset, data=data, own="assignee")
    sort = request.GET.get("sort", "due")
    if sort not in TASK_SORTS:
        sort = "due"
    page = keyset_page(filterset.qs, ordering=TASK_SORTS[sort][1], cursor=request.GET.get("after"))
    form = bound_form(request, TaskForm, membership=membership)
    if form.is_valid():
        assignee = form.cleaned_data.get("assignee")
        try:
            task_services.create_task(
                dealer=membership.dealer,
                actor=actor(request),
                data={
                    "title": form.cleaned_data["title"],
                    "due_at": form.cleaned_data["due_at"],
                    "notes": form.cleaned_data["notes"],
                    "assignee_id": assignee.pk if assignee else membership.user_id,
                },
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Task added."))
            return done(request, reverse("task_list"))
    context = {
        "filter": filterset,
        "page": page,
        "sort": sort,
        "sorts": [(key, label) for key, (label, _ordering) in TASK_SORTS.items()],
        "form": form,
    }
    return render_page_or_partial(request, "crm/tasks/list.html", "crm/tasks/_table.html", context)


@membership_required()
def task_done(request: HttpRequest, pk: Any) -> HttpResponse:
    """Mark a task done (or open again); a salesperson only their own or unassigned ones."""
    task = get_object_or_404(tasks_for(viewer(request)).select_related("prospect", "lead"), pk=pk)
    if request.method == "POST":
        reopen = request.POST.get("done") == "false"
        try:
            task = task_services.complete_task(task=task, actor=actor(request), done=not reopen)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        if is_htmx(request):
            return render(request, "crm/tasks/_row.html", {"task": task, "compact": request.POST.get("compact")})
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("task_list")
        messages.success(request, _("Task reopened.") if reopen else _("Task done."))
        return done(request, target or reverse("task_list"))
    return render(request, "crm/tasks/done.html", {"task": task})
