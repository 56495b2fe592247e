"""The data protection officer's admin pages (issue 13, items 2 and 5): the read audit and the subject export.

"Who saw Max Mustermann in the last 30 days": the read audit's list, filtered by time, searched by a
person's name, email or phone. The rows hold ids only, so the search first finds the matching
prospects of every dealership and then lists the rows about them. The subject export page finds a
person by normalised email or phone across all dealerships and downloads everything about them as
one ZIP (crm.services.subject_access). Both are for the data protection role and superusers only,
though other manufacturer roles may view the rest of crm.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _

from crm.models import Prospect
from crm.normalize import normalize_email, normalize_phone
from crm.read_audit import ReadAudit
from crm.services import subject_access
from dealers.admin_base import ExtraPagesAdmin, ReadOnlyAdmin


class PeriodFilter(admin.SimpleListFilter):
    title = _("time")
    parameter_name = "within"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("1", _("Last 24 hours")),
            ("7", _("Last 7 days")),
            ("30", _("Last 30 days")),
            ("90", _("Last 90 days")),
            ("365", _("Last 12 months")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ReadAudit]) -> QuerySet[ReadAudit]:
        if self.value() in {"1", "7", "30", "90", "365"}:
            return queryset.filter(at__gte=timezone.now() - timedelta(days=int(self.value() or 0)))
        return queryset


@admin.register(ReadAudit)
class ReadAuditAdmin(ExtraPagesAdmin, ReadOnlyAdmin):
    """Who read whose data: searchable by the person (name, email, phone), an object id or a route."""

    list_display = ("at", "action", "who", "object_type", "object_id", "prospect_id", "dealer", "ip", "route")
    list_filter = (PeriodFilter, "action", "object_type")
    search_fields = ("=object_id", "route")
    search_help_text = _("A person's name, email or phone (every dealership), or an object id.")
    list_select_related = ("dealer", "user", "api_key")
    ordering = ("-at", "-id")
    change_list_template = "crm/admin/readaudit_change_list.html"  # links the subject export
    extra_pages: ClassVar = (("subject-export/", "subject_export_view", "crm_readaudit_subject_export"),)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return subject_access.is_data_protection_officer(request.user) and super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    @admin.display(description=_("who"))
    def who(self, entry: ReadAudit) -> str:
        if entry.api_key_id:
            return f"api:{entry.api_key.prefix}" if entry.api_key else f"api key {entry.api_key_id}"
        if entry.user_id:
            return entry.user.email if entry.user else f"user {entry.user_id}"
        return entry.route

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ReadAudit], search_term: str
    ) -> tuple[QuerySet[ReadAudit], bool]:
        """The person is resolved to prospect ids now: the rows hold ids, not names or addresses."""
        if not search_term.strip():
            return queryset, False
        people = subject_access.prospects_named(search_term)
        by_fields, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset.filter(Q(prospect_id__in=people) | Q(pk__in=by_fields.values("pk"))), may_have_duplicates

    def subject_export_view(self, request: HttpRequest) -> HttpResponse:
        """Find a person by email or phone in every dealership, choose their records, download the ZIP."""
        if not subject_access.is_data_protection_officer(request.user):
            raise PermissionDenied
        form = SubjectSearchForm(request.POST if request.method == "POST" else (request.GET or None))
        found: list[Prospect] = []
        if form.is_bound and form.is_valid():
            found = subject_access.find_subject(
                email=form.cleaned_data["email"],
                phone=form.cleaned_data["phone"],
                dealer_number=form.cleaned_data["dealer"],
            )
            if request.method == "POST" and request.POST.get("export") == "yes":
                chosen = set(request.POST.getlist("prospect"))
                picked = [p for p in found if str(p.pk) in chosen]
                if picked:
                    return self._download(request, picked, form.cleaned_data)
                form.add_error(None, _("Choose at least one prospect."))
        return self.render_page(
            request,
            "crm/admin/subject_export.html",
            _("Export personal data (GDPR Art. 15/20)"),
            {"form": form, "found": found, "searched": form.is_bound and form.is_valid()},
        )

    def _download(self, request: HttpRequest, prospects: list[Prospect], search: dict[str, str]) -> HttpResponse:
        export = subject_access.export_for_officer(prospects=prospects, request=request, search=search)
        response = HttpResponse(export.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        add_never_cache_headers(response)
        return response


class SubjectSearchForm(forms.Form):
    email = forms.CharField(label=_("Email"), required=False, max_length=254)
    phone = forms.CharField(label=_("Phone or mobile"), required=False, max_length=40)
    dealer = forms.CharField(label=_("Dealer number (optional)"), required=False, max_length=20)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        email, phone = data.get("email", ""), data.get("phone", "")
        if not normalize_email(email) and not normalize_phone(phone):
            raise forms.ValidationError(_("Give an email address or a phone number."))
        return data
