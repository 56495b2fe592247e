"""Staff invitations: a dealer administrator revokes open ones; the invited person accepts.

The accept page needs no dealership: the link is the credential, and it only ever works for the
signed-in account of the invited address (or for creating that account when none exists).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from dealers import services
from dealers.access import DEALER_ADMINS, membership_required
from dealers.actors import Actor
from dealers.forms import InvitationSignupForm, bound_form
from dealers.middleware import SESSION_KEY
from dealers.models import Membership, User
from dealers.selectors import pending_invitations_of


@membership_required(*DEALER_ADMINS)
def staff_invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    invitation = get_object_or_404(pending_invitations_of(membership), pk=pk)
    if request.method == "POST":
        services.revoke_invitation(invitation=invitation, actor=Actor.for_user(request.user))
        messages.success(request, _("The invitation for %(email)s is revoked.") % {"email": invitation.email})
        return redirect("staff_list")
    return render(request, "dealers/invitation_revoke.html", {"invitation": invitation})


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "dealers/invitation_invalid.html", status=404)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationInvalid:
        return _invalid(request)
    response: HttpResponse
    if not request.user.is_authenticated:
        if User.objects.filter(email__iexact=invitation.email).exists():
            return redirect_to_login(request.get_full_path())
        form = bound_form(request, InvitationSignupForm, email=invitation.email)
        if form.is_valid():
            try:
                membership = services.register_invited_user(
                    token=token,
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    password=form.cleaned_data["password1"],
                )
            except services.InvitationInvalid:
                return _invalid(request)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
                return _joined(request, membership)
        response = render(request, "dealers/invitation_signup.html", {"invitation": invitation, "form": form})
    elif request.user.email.lower() != invitation.email.lower():
        response = render(request, "dealers/invitation_wrong_user.html", {"invitation": invitation}, status=403)
    elif request.method == "POST":
        try:
            membership = services.accept_invitation(
                token=token,
                user=request.user,
                actor=Actor.for_user(request.user),
            )
        except services.InvitationInvalid:
            return _invalid(request)
        except PermissionDenied:
            response = render(request, "dealers/invitation_wrong_user.html", {"invitation": invitation}, status=403)
        else:
            return _joined(request, membership)
    else:
        response = render(request, "dealers/invitation_accept.html", {"invitation": invitation})
    # The link's token must not leak through caches or the Referer of pages linked from here.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    request.session[SESSION_KEY] = membership.dealer_id
    messages.success(request, _("Welcome to %(dealer)s.") % {"dealer": membership.dealer.name})
    return redirect("dashboard")
