"""E-mail pages: write to a prospect from the lead or prospect page; the dealer admin's templates."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.messaging import services
from crm.messaging.forms import ComposeForm, EmailTemplateForm
from crm.messaging.models import EmailTemplate
from crm.models import Lead, Prospect
from crm.ui.forms import apply_service_error
from crm.ui.views.common import (
    actor,
    done,
    lead_for_action,
    prospect_or_404,
    render_page_or_partial,
    submitted,
    viewer,
)
from dealers.access import DEALER_ADMINS, membership_required
from dealers.models import User


def _compose(
    request: HttpRequest, *, prospect: Prospect, lead: Lead | None, back: str, page: str, context: dict[str, Any]
) -> HttpResponse:
    """GET (or GET with ``template``): the form, filled from the chosen template; POST: send."""
    templates = EmailTemplate.objects.visible_to(viewer(request)).active()
    chosen: EmailTemplate | None = None
    if request.method == "POST":
        form = ComposeForm(request.POST, templates=templates)
        if form.is_valid():
            chosen = form.cleaned_data["template"]
            try:
                services.send_prospect_email(
                    prospect=prospect,
                    lead=lead,
                    actor=actor(request),
                    subject=form.cleaned_data["subject"],
                    body=form.cleaned_data["body"],
                    template=chosen,
                    language=form.cleaned_data["language"],
                    base_url=request.build_absolute_uri("/"),
                )
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(request, _("E-mail sent to %(address)s.") % {"address": prospect.email})
                return done(request, back)
    else:
        language = request.GET.get("language") or services.language_of(prospect)
        initial: dict[str, Any] = {"language": language}
        picked = request.GET.get("template")
        if picked and picked.isdigit():
            chosen = templates.filter(pk=int(picked)).first()
        if chosen is not None:
            sender = request.user if isinstance(request.user, User) else None
            draft = services.compose(template=chosen, prospect=prospect, lead=lead, sender=sender, language=language)
            initial.update(template=chosen.pk, subject=draft.subject, body=draft.body)
        form = ComposeForm(initial=initial, templates=templates)
    refusal = ""
    if chosen is not None and chosen.purpose == EmailTemplate.Purpose.MARKETING:
        refusal = services.marketing_refusal(prospect)
    full = {
        **context,
        "form": form,
        "prospect": prospect,
        "lead": lead,
        "chosen": chosen,
        "marketing": chosen is not None and chosen.purpose == EmailTemplate.Purpose.MARKETING,
        "refusal": refusal,
        "title": _("Send e-mail"),
        "action_template": "messaging/_compose_form.html",
        "action_url": request.path,
        "cancel_url": back,
    }
    return render_page_or_partial(request, page, "messaging/_compose_form.html", full)


@membership_required()
def lead_email(request: HttpRequest, pk: Any) -> HttpResponse:
    lead = lead_for_action(request, pk)
    return _compose(
        request,
        prospect=lead.prospect,
        lead=lead,
        back=reverse("lead_detail", args=[lead.pk]),
        page="crm/leads/action.html",
        context={},
    )


@membership_required()
def prospect_email(request: HttpRequest, pk: Any) -> HttpResponse:
    prospect = prospect_or_404(request, pk)
    return _compose(
        request,
        prospect=prospect,
        lead=None,
        back=reverse("prospect_detail", args=[prospect.pk]),
        page="messaging/prospect_action.html",
        context={},
    )


# --- the dealer admin's templates ---


@membership_required(*DEALER_ADMINS)
def template_list(request: HttpRequest) -> HttpResponse:
    templates = EmailTemplate.objects.visible_to(viewer(request)).order_by("dealer_id", "name", "id")
    own = [t for t in templates if t.dealer_id is not None]
    network = [t for t in templates if t.dealer_id is None]
    context = {"own": own, "network": network, "inbound_address": services.dealer_address(viewer(request).dealer)}
    return render(request, "messaging/template_list.html", context)


def _template_form(request: HttpRequest, form: EmailTemplateForm, title: str) -> HttpResponse:
    from crm.messaging.rendering import PLACEHOLDERS

    context = {"form": form, "title": title, "placeholders": PLACEHOLDERS.items()}
    return render(request, "messaging/template_form.html", context)


@membership_required(*DEALER_ADMINS)
def template_create(request: HttpRequest) -> HttpResponse:
    form = EmailTemplateForm(request.POST or None)
    saved = submitted(
        request,
        form,
        lambda: services.create_template(dealer=viewer(request).dealer, actor=actor(request), data=form.cleaned_data),
        success=_("Template saved."),
        then=reverse("email_template_list"),
    )
    return saved or _template_form(request, form, _("New e-mail template"))


@membership_required(*DEALER_ADMINS)
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    membership = viewer(request)
    own = EmailTemplate.objects.visible_to(membership).filter(dealer_id=membership.dealer_id)  # not the network's
    template = get_object_or_404(own, pk=pk)
    form = EmailTemplateForm(request.POST or None, instance=template)

    def save() -> EmailTemplate:
        data = {field: form.cleaned_data[field] for field in form.Meta.fields}
        template.refresh_from_db()  # the ModelForm set the posted values on the instance already
        return services.update_template(template=template, actor=actor(request), data=data)

    saved = submitted(request, form, save, success=_("Template saved."), then=reverse("email_template_list"))
    return saved or _template_form(request, form, _("Edit e-mail template"))
