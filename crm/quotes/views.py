"""Quote pages: issue a quote from a lead, revise it (a new version), open a version's PDF, e-mail it,
and record the customer's answer (accepted: the lead is won; declined: the timeline says so)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.quotes import selectors
from crm.quotes import services as quote_services
from crm.quotes.forms import QuoteForm, initial_for_lead, initial_from_version
from crm.quotes.models import Quote, QuoteVersion
from crm.quotes.pdf import render_pdf
from crm.read_audit import ReadAudit, record_read
from crm.ui.views.common import (
    actor,
    can_act_on,
    done,
    lead_for_action,
    render_page_or_partial,
    submit,
    submitted,
    viewer,
)
from dealers.access import membership_required
from dealers.forms import bound_form

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def quote_or_404(request: HttpRequest, pk: Any) -> Quote:
    """The quote if the viewer may see its lead; a foreign or missing quote is a 404."""
    return get_object_or_404(selectors.quotes_for(viewer(request)), pk=pk)


def quote_for_action(request: HttpRequest, pk: Any) -> Quote:
    quote = quote_or_404(request, pk)
    if not can_act_on(viewer(request), quote.lead):
        raise PermissionDenied
    return quote


def _version(request: HttpRequest, quote: Quote, number: int) -> QuoteVersion:
    for version in selectors.versions_of(viewer(request), quote):
        if version.number == number:
            return version
    raise Http404


def _form_page(
    request: HttpRequest, form: QuoteForm, lead: Any, *, title: str, quote: Quote | None = None
) -> HttpResponse:
    context = {"form": form, "lead": lead, "prospect": lead.prospect, "quote": quote, "title": title}
    return render(request, "quotes/form.html", context)


@membership_required()
def quote_create(request: HttpRequest, lead_pk: Any) -> HttpResponse:
    """Issue a quote for the lead: version 1; a lead before ``offer`` moves there."""
    lead = lead_for_action(request, lead_pk)
    form = bound_form(request, QuoteForm, initial=initial_for_lead(lead))
    if request.method == "POST" and form.is_valid():
        quote = submit(
            form, lambda: quote_services.create_quote(lead=lead, actor=actor(request), data=form.service_data())
        )
        if quote is not None:
            messages.success(request, _("Quote %(number)s issued.") % {"number": quote.number})
            return done(request, reverse("quote_detail", args=[quote.pk]))
    return _form_page(request, form, lead, title=_("New quote"))


@membership_required()
def quote_revise(request: HttpRequest, pk: Any) -> HttpResponse:
    """Change an open quote: the change is a new version, the earlier versions stay as they were sent."""
    quote = quote_for_action(request, pk)
    if not quote.is_open:
        messages.error(request, _("This quote was already accepted or declined."))
        return done(request, reverse("quote_detail", args=[quote.pk]))
    current = _version(request, quote, quote.current_version)
    form = bound_form(request, QuoteForm, initial=initial_from_version(current))
    saved = submitted(
        request,
        form,
        lambda: quote_services.revise_quote(
            quote=quote, actor=actor(request), data=form.service_data(), expected_version=form.cleaned_data["version"]
        ),
        success=_("New version of the quote issued."),
        then=reverse("quote_detail", args=[quote.pk]),
    )
    title = _("Revise quote %(number)s") % {"number": quote.number}
    return saved or _form_page(request, form, quote.lead, title=title, quote=quote)


@membership_required()
def quote_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    quote = quote_or_404(request, pk)
    record_read(request, action=ReadAudit.Action.VIEW, obj=quote, prospect_id=quote.lead.prospect_id)
    versions = selectors.versions_of(viewer(request), quote)
    current = next(v for v in versions if v.number == quote.current_version)
    context = {
        "quote": quote,
        "lead": quote.lead,
        "prospect": quote.lead.prospect,
        "versions": versions,
        "current": current,
        "breakdown": current.breakdown(),
        "can_act": can_act_on(viewer(request), quote.lead),
    }
    return render(request, "quotes/detail.html", context)


@membership_required()
def quote_pdf(request: HttpRequest, pk: Any, number: int) -> HttpResponse:
    """A version as PDF, shown in the browser (inline); every version stays readable."""
    quote = quote_or_404(request, pk)
    version = _version(request, quote, number)
    record_read(request, action=ReadAudit.Action.VIEW, obj=quote, prospect_id=quote.lead.prospect_id,
                data={"pdf_version": number})  # fmt: skip
    response = HttpResponse(render_pdf(version), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{quote_services.pdf_filename(version)}"'
    response["Cache-Control"] = "private, no-store"
    return response


class NoteForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class SendForm(forms.Form):
    message = forms.CharField(
        label=gettext_lazy("Message"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("Empty: a short standard text in the prospect's language."),
    )


def _action(request: HttpRequest, quote: Quote, form: forms.Form, template: str, title: str) -> HttpResponse:
    context = {
        "form": form,
        "quote": quote,
        "lead": quote.lead,
        "prospect": quote.lead.prospect,
        "title": title,
        "action_template": template,
        "action_url": request.path,
        "cancel_url": reverse("quote_detail", args=[quote.pk]),
    }
    return render_page_or_partial(request, "quotes/action.html", template, context)


# An action's service call: given the request, the quote and the form's cleaned data.
QuoteChange = Callable[[HttpRequest, Quote, dict[str, Any]], object]


def _send(request: HttpRequest, quote: Quote, data: dict[str, Any]) -> object:
    base_url = request.build_absolute_uri("/").rstrip("/")
    return quote_services.send_quote(quote=quote, actor=actor(request), message=data["message"], base_url=base_url)


def _answer(record: Callable[..., object]) -> QuoteChange:
    """The customer's answer, recorded by ``record`` (``accept_quote``, ``decline_quote``) with the form's note."""
    return lambda request, quote, data: record(quote=quote, actor=actor(request), note=data["note"])


@dataclass(frozen=True)
class QuoteAction:
    """An action on a quote: its form, its service call, its page's title and the message after it.

    Its form's template is ``quotes/_<action>_form.html``; crm/quotes/urls.py gives each its own address.
    """

    form_class: type[forms.Form]
    run: QuoteChange
    title: StrOrPromise
    success: StrOrPromise


QUOTE_ACTIONS = {
    # E-mail the current version as PDF to the prospect; the e-mail goes on the timeline.
    "send": QuoteAction(SendForm, _send, gettext_lazy("E-mail quote"), gettext_lazy("The quote was e-mailed.")),
    # The customer accepted: the quote is closed and the lead is won.
    "accept": QuoteAction(
        NoteForm,
        _answer(quote_services.accept_quote),
        gettext_lazy("Quote accepted"),
        gettext_lazy("Quote accepted; the lead is won."),
    ),
    # The customer declined: the quote is closed, the lead stays open.
    "decline": QuoteAction(
        NoteForm, _answer(quote_services.decline_quote), gettext_lazy("Quote declined"), gettext_lazy("Quote declined.")
    ),
}


@membership_required()
def quote_action(request: HttpRequest, pk: Any, action: str) -> HttpResponse:
    """One of ``QUOTE_ACTIONS``: a valid POST runs it and returns to the quote, else its form (again)."""
    chosen = QUOTE_ACTIONS[action]
    quote = quote_for_action(request, pk)
    form = bound_form(request, chosen.form_class)
    changed = submitted(
        request,
        form,
        lambda: chosen.run(request, quote, form.cleaned_data),
        success=str(chosen.success),
        then=reverse("quote_detail", args=[quote.pk]),
    )
    return changed or _action(request, quote, form, f"quotes/_{action}_form.html", str(chosen.title))
