"""Dealership pages of the inbound side: upload a CSV file, see past imports and their row errors."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealers.access import MANAGERS, membership_required
from dealers.actors import Actor
from dealers.models import Membership
from sync.inbound.files import LEAD_COLUMNS, MAX_FILE_BYTES, PROSPECT_COLUMNS, run_import
from sync.models import ImportRun

ROW_ERRORS_SHOWN = 500


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
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB; split it.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
            )
        return upload


@membership_required(*MANAGERS)
def import_list(request: HttpRequest) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    form = ImportUploadForm(request.POST, request.FILES) if request.method == "POST" else ImportUploadForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        run = run_import(
            dealer=membership.dealer,
            content=upload.read(),
            filename=upload.name or "upload.csv",
            origin=ImportRun.Origin.UPLOAD,
            actor=Actor.for_user(request.user),
            viewer=membership,
        )
        return redirect("inbound_import_detail", pk=run.pk)
    runs = ImportRun.objects.visible_to(membership).defer("content")[:50]
    return render(
        request,
        "sync/inbound/import_list.html",
        {
            "form": form,
            "runs": runs,
            "prospect_columns": PROSPECT_COLUMNS,
            "lead_columns": LEAD_COLUMNS,
        },
        status=400 if request.method == "POST" else 200,
    )


@membership_required(*MANAGERS)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    run = get_object_or_404(ImportRun.objects.visible_to(membership).defer("content"), pk=pk)
    errors = run.row_errors.all()[:ROW_ERRORS_SHOWN]
    return render(request, "sync/inbound/import_detail.html", {"run": run, "errors": errors, "shown": ROW_ERRORS_SHOWN})
