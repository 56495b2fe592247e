"""Dealership pages of the inbound side: upload a CSV file, see past imports, their progress and row errors.

An upload is streamed: a handler counts the bytes as they arrive and stops at ``MAX_FILE_BYTES`` (a
request announcing more is refused before its body is read), so an oversize file is never held whole
nor stored. The file is stored and its import queued (``sync.inbound.imports``); the run's page shows the
progress and polls with htmx while the import is queued or running.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    StopUpload,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from dealers.access import MANAGERS, membership_required
from dealers.actors import Actor
from dealers.models import Membership
from sync.inbound.files import LEAD_COLUMNS, MAX_FILE_BYTES, PROSPECT_COLUMNS
from sync.inbound.imports import UploadTooLarge, queue_upload
from sync.models import ImportRun

ROW_ERRORS_SHOWN = 500
FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries, the CSRF token, the file's part headers
POLL_SECONDS = 2


def too_large_message() -> str:
    return _("The file is larger than %(mb)d MB; split it.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)}


class LimitedUploadHandler(FileUploadHandler):
    """First in the chain: counts the upload's bytes as they stream in and stops the upload past the limit."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)  # the other handlers drop what they hold
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "Prospects or lead status; UTF-8 or Windows-1252, separated by ; or , with a header row."
        ),
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(too_large_message())
        return upload


def _announced_size(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@csrf_exempt  # checked by import_list_page, after the size-limiting upload handler is in place
@membership_required(*MANAGERS)
def import_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if _announced_size(request) > MAX_FILE_BYTES + FORM_OVERHEAD_BYTES:
            return _render_list(request, ImportUploadForm(), error=too_large_message(), status=413)
        limiter = LimitedUploadHandler(request, MAX_FILE_BYTES)
        request.upload_handlers = [limiter, MemoryFileUploadHandler(request), TemporaryFileUploadHandler(request)]
        request.upload_limiter = limiter  # type: ignore[attr-defined]
    return import_list_page(request)


@csrf_protect
def import_list_page(request: HttpRequest) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    if request.method != "POST":
        return _render_list(request, ImportUploadForm())
    form = ImportUploadForm(request.POST, request.FILES)
    limiter: LimitedUploadHandler = request.upload_limiter  # type: ignore[attr-defined]
    if limiter.exceeded:
        return _render_list(request, ImportUploadForm(), error=too_large_message(), status=413)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        run = queue_upload(
            membership=membership,
            chunks=upload.chunks(),
            filename=upload.name or "upload.csv",
            actor=Actor.for_user(request.user),
        )
    except UploadTooLarge:
        return _render_list(request, ImportUploadForm(), error=too_large_message(), status=413)
    return redirect("inbound_import_detail", pk=run.pk)


def _render_list(request: HttpRequest, form: ImportUploadForm, *, error: str = "", status: int = 200) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    if error:
        form.errors.setdefault("file", form.error_class()).append(error)
    runs = ImportRun.objects.visible_to(membership).defer("content")[:50]
    context: dict[str, Any] = {
        "form": form,
        "runs": runs,
        "prospect_columns": PROSPECT_COLUMNS,
        "lead_columns": LEAD_COLUMNS,
        "max_mb": MAX_FILE_BYTES // (1024 * 1024),
    }
    return render(request, "sync/inbound/import_list.html", context, status=status)


@membership_required(*MANAGERS)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    run = get_object_or_404(ImportRun.objects.visible_to(membership).defer("content"), pk=pk)
    errors = run.row_errors.all()[:ROW_ERRORS_SHOWN]
    pending = run.status in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING)
    percent = int(100 * run.rows_processed / run.rows_total) if run.rows_total else 0
    context = {"run": run, "errors": errors, "shown": ROW_ERRORS_SHOWN, "pending": pending, "percent": percent}
    context["poll_seconds"] = POLL_SECONDS
    template = "sync/inbound/_import_result.html" if request.htmx else "sync/inbound/import_detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)
