"""The manufacturer's side of e-mail: network-wide template defaults, sent e-mails, inbound mail (dead letters)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from crm.messaging import services
from crm.messaging.forms import EmailTemplateForm
from crm.messaging.models import EmailTemplate, InboundEmail, SentEmail
from crm.read_audit import AuditedChangeView
from dealers.actors import Actor
from dealers.admin_base import ActorNamesAdmin, ReadOnlyAdmin


class EmailTemplateAdminForm(EmailTemplateForm):
    class Meta(EmailTemplateForm.Meta):
        fields: tuple[str, ...] = ("dealer", *EmailTemplateForm.Meta.fields)


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    """Network-wide defaults (no dealership) are maintained here; dealerships keep their own in the UI."""

    form = EmailTemplateAdminForm
    list_display = ("name", "dealer", "purpose", "is_active", "updated_at")
    list_filter = ("purpose", "is_active", ("dealer", admin.EmptyFieldListFilter))
    search_fields = ("name", "subject_de", "=dealer__number")
    list_select_related = ("dealer",)
    raw_id_fields = ("dealer",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # sent e-mails keep naming their template; deactivate instead

    def save_model(self, request: HttpRequest, obj: EmailTemplate, form: forms.ModelForm, change: bool) -> None:
        actor = Actor.for_user(request.user)
        data = {field: form.cleaned_data[field] for field in services.TEMPLATE_FIELDS if field in form.cleaned_data}
        if change:
            current = self.get_queryset(request).get(pk=obj.pk)
            services.update_template(template=current, actor=actor, data=data)
        else:
            created = services.create_template(dealer=form.cleaned_data.get("dealer"), actor=actor, data=data)
            obj.pk = created.pk


@admin.register(SentEmail)
class SentEmailAdmin(AuditedChangeView, ActorNamesAdmin, ReadOnlyAdmin):
    actor_fields = ("sent_by_label",)  # in words: the person's name, "API key ... (...)" (dealers.admin_base)
    list_display = ("sent_at", "dealer", "prospect", "subject", "purpose", "sent_by_label")
    list_filter = ("purpose",)
    search_fields = ("=message_id", "=dealer__number", "subject")
    list_select_related = ("dealer", "prospect")


@admin.register(InboundEmail)
class InboundEmailAdmin(AuditedChangeView, ReadOnlyAdmin):
    """Every message the intake server accepted; ``unmatched``/``malformed`` are the dead letters to look at."""

    list_display = ("received_at", "status", "dealer", "from_address", "subject", "matched_by", "error")
    list_filter = ("status", "matched_by")
    search_fields = ("=message_id", "=dealer__number", "from_address", "subject")
    list_select_related = ("dealer",)
    exclude = ("raw",)
    readonly_fields = ("raw_text",)

    @admin.display(description=_("message as received"))
    def raw_text(self, obj: InboundEmail) -> str:
        return bytes(obj.raw or b"").decode("utf-8", "replace")[:200_000]
