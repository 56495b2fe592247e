"""Dealership pages: the dealership switcher and staff management for dealer administrators."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.http import require_POST

from dealers import services
from dealers.access import DEALER_ADMINS, membership_required
from dealers.actors import Actor
from dealers.forms import StaffEditForm, StaffInviteForm, SwitchDealerForm, bound_form
from dealers.middleware import SESSION_KEY
from dealers.models import Membership, User
from dealers.reauth import confirmed_recently, reauthentication_redirect, reauthentication_required
from dealers.selectors import memberships_of, pending_invitations_of, staff_of


@login_required
@require_POST
def switch_dealer(request: HttpRequest) -> HttpResponse:
    """Work in another dealership of the user's; an unknown or foreign dealership is a 404."""
    form = SwitchDealerForm(request.POST)
    if not form.is_valid():
        return redirect("dashboard")
    membership = get_object_or_404(memberships_of(request.user), dealer_id=form.cleaned_data["dealer_id"])
    request.session[SESSION_KEY] = membership.dealer_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target or "/")


@membership_required(*DEALER_ADMINS)
@reauthentication_required  # an invitation grants a role
def staff_list(request: HttpRequest) -> HttpResponse:
    """The dealership's staff and open invitations; posting invites an address (nobody joins unasked)."""
    membership: Membership = request.membership  # type: ignore[attr-defined]
    form = bound_form(request, StaffInviteForm)
    if form.is_valid():
        try:
            services.invite_staff_member(
                dealer=membership.dealer,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=Actor.for_user(request.user),
                link_for=lambda token: request.build_absolute_uri(reverse("invitation_accept", args=[token])),
            )
        except ValidationError as error:
            form.add_error("email" if hasattr(error, "error_dict") else None, error.messages)
        else:
            messages.success(request, _("The invitation is on its way to %(email)s.") % form.cleaned_data)
            return redirect("staff_list")
    context = {"staff": staff_of(membership), "invitations": pending_invitations_of(membership), "form": form}
    return render(request, "dealers/staff_list.html", context)


@membership_required(*DEALER_ADMINS)
def staff_edit(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: Membership = request.membership  # type: ignore[attr-defined]
    member = get_object_or_404(staff_of(viewer), pk=pk)
    initial = {
        "role": member.role,
        "is_active": member.is_active,
        "is_available": member.is_available,
        "lead_capacity": member.lead_capacity,
    }
    form = bound_form(request, StaffEditForm, initial=initial)
    if form.is_valid():
        grants = form.cleaned_data["role"] != member.role or form.cleaned_data["is_active"] != member.is_active
        if grants and not confirmed_recently(request):  # a role change needs the password again
            return reauthentication_redirect(request)
        try:
            services.update_staff_member(membership=member, actor=Actor.for_user(request.user), **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("staff_list")
    return render(request, "dealers/staff_edit.html", {"member": member, "form": form, "title": _("Edit staff member")})


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, which also remembers the choice on the signed-in person's account."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language", "")
    if request.method == "POST" and request.user.is_authenticated and language in dict(settings.LANGUAGES):
        User.objects.filter(pk=request.user.pk).update(language=language)
    return response
