"""The manufacturer's admin site for the dealer network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from dealers import roles, services
from dealers.actors import Actor, describe_actor, with_api_key_names
from dealers.admin_base import ActorNamesAdmin, ReadOnlyAdmin
from dealers.api_keys import clean_scopes, create_api_key, revoke_api_key, rotate_api_key
from dealers.models import (
    ApiKey,
    AuditEvent,
    Dealer,
    DealerGroup,
    Membership,
    OpeningHours,
    Region,
    Territory,
    User,
)

admin.site.site_header = _("Dealer CRM: manufacturer administration")
admin.site.site_title = _("Dealer CRM admin")


class MembershipForm(forms.ModelForm):
    """A membership in the admin; ``by`` (the signed-in user) is bound per request."""

    by: Any = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.has_changed():
            return cleaned
        accounts = [cleaned.get("user"), self.instance.user if self.instance.pk else None]
        if not all(roles.may_manage_account(self.by, account) for account in accounts if account is not None):
            raise ValidationError(
                _("Only a superuser may change memberships of manufacturer accounts or of their own account."),
                code="not_allowed",
            )
        return cleaned


def _form_for(form: Any, request: HttpRequest) -> Any:
    return type(form.__name__, (form,), {"by": request.user})


def _save(request: HttpRequest, obj: Any) -> None:
    actor = Actor.for_user(request.user)
    if isinstance(obj, Membership):
        services.save_membership(membership=obj, by=request.user, actor=actor)
    else:
        services.save_network_record(record=obj, actor=actor)


def _delete(request: HttpRequest, obj: Any) -> None:
    actor = Actor.for_user(request.user)
    if isinstance(obj, Membership):
        services.delete_membership(membership=obj, by=request.user, actor=actor)
    elif isinstance(obj, User):
        services.delete_account(account=obj, by=request.user, actor=actor)
    else:
        services.delete_network_record(record=obj, actor=actor)


class ThroughServices(admin.ModelAdmin):
    """Every save and delete (the page, its inlines, the delete action) goes through dealers.services,
    which validates, applies the rules of dealers/roles.py and writes the audit trail; the admin only presents.
    """

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        _save(request, obj)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset.order_by("pk"):
            self.delete_model(request, obj)

    def account_of(self, obj: Any) -> User | None:
        """The account a row belongs to, whose change and deletion dealers/roles.py restricts; None: no account."""
        return None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and self._may_manage(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and self._may_manage(request, obj)

    def _may_manage(self, request: HttpRequest, obj: Any) -> bool:
        account = self.account_of(obj) if obj is not None else None
        return account is None or roles.may_manage_account(request.user, account)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        saved = formset.save(commit=False)
        for obj in formset.deleted_objects:  # first, so a row removed and added again in one go is not a clash
            _delete(request, obj)
        for obj in saved:
            _save(request, obj)


class CountedRelations(admin.ModelAdmin):
    """Changelist columns that count related rows: ``counts`` maps each column (an annotation) to its relation."""

    counts: ClassVar[dict[str, str]] = {}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        counted = {column: Count(relation) for column, relation in self.counts.items()}
        return super().get_queryset(request).annotate(**counted)


def count_column(column: str, description: Any) -> Callable[[Any, Any], int]:
    """The display of a column that ``CountedRelations.counts`` annotates, sortable by it."""

    @admin.display(description=description, ordering=column)
    def show(self: Any, obj: Any) -> int:
        return int(getattr(obj, column))

    return show


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "is_active", "is_available", "lead_capacity")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = _form_for(formset.form, request)
        return formset


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class TerritoryInline(admin.TabularInline):
    model = Territory
    extra = 0


ACCOUNT_ADD_FIELDS = ("email", "first_name", "last_name", "language")


class AccountAddForm(forms.ModelForm):
    """A new account made by someone who may not set passwords: the person sets one through a reset."""

    class Meta:
        model = User
        fields = ACCOUNT_ADD_FIELDS

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"]).lower()


@admin.register(User)
class UserAdmin(ThroughServices, DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = (MembershipInline,)

    # Who may change which account, its rights and its password: dealers/roles.py; the services enforce it.
    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None and not roles.may_set_passwords(request.user):
            kwargs["form"] = AccountAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None and not roles.may_set_passwords(request.user):
            return ((None, {"classes": ("wide",), "fields": ACCOUNT_ADD_FIELDS}),)
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if roles.may_grant_rights(request.user) else (*readonly, *roles.RIGHTS_FIELDS)

    def account_of(self, obj: User) -> User:
        return obj

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        if not roles.may_set_passwords(request.user):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        rights = {name: form.cleaned_data[name] for name in ("groups", "user_permissions") if name in form.fields}
        services.save_account(account=obj, by=request.user, actor=Actor.for_user(request.user), **rights)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # groups and permissions were saved by save_account, where the rule on rights applies
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(DealerGroup)
class DealerGroupAdmin(CountedRelations, ThroughServices):
    list_display = ("name", "dealer_count")
    search_fields = ("name",)
    counts: ClassVar = {"dealer_count": "dealers"}
    dealer_count = count_column("dealer_count", _("dealerships"))


@admin.register(Region)
class RegionAdmin(ThroughServices):
    list_display = ("code", "name", "manager")
    search_fields = ("code", "name")
    autocomplete_fields = ("manager",)


@admin.register(Dealer)
class DealerAdmin(CountedRelations, ThroughServices):
    list_display = ("number", "name", "city", "postcode", "region", "group", "is_active", "staff_count")
    list_filter = ("is_active", "region", "group", "country")
    search_fields = ("number", "name", "city", "postcode")
    list_select_related = ("region", "group")
    autocomplete_fields = ("group",)
    inlines = (OpeningHoursInline, TerritoryInline, MembershipInline)
    fieldsets = (
        (None, {"fields": ("number", "name", "group", "region", "is_active")}),
        (
            _("Address and contact"),
            {"fields": ("street", "postcode", "city", "country", "phone", "email", "latitude", "longitude")},
        ),
        (_("Lead handling"), {"fields": ("first_contact_minutes", "salespeople_see_unassigned")}),
    )

    counts: ClassVar = {"staff_count": "memberships"}
    staff_count = count_column("staff_count", _("staff"))


@admin.register(Territory)
class TerritoryAdmin(ThroughServices):
    list_display = ("postcode_prefix", "dealer")
    search_fields = ("postcode_prefix", "dealer__number", "dealer__name")
    list_select_related = ("dealer",)
    autocomplete_fields = ("dealer",)


@admin.register(Membership)
class MembershipAdmin(ThroughServices):
    list_display = ("user", "dealer", "role", "is_active", "is_available", "lead_capacity")
    list_filter = ("role", "is_active", "is_available", "dealer__region")
    search_fields = ("user__email", "user__last_name", "dealer__number", "dealer__name")
    list_select_related = ("user", "dealer")
    autocomplete_fields = ("user", "dealer")
    form = MembershipForm

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        return _form_for(super().get_form(request, obj, change=change, **kwargs), request)

    def account_of(self, obj: Membership) -> User:
        return obj.user


@admin.register(AuditEvent)
class AuditEventAdmin(ActorNamesAdmin, ReadOnlyAdmin):
    actor_fields = ("actor_label",)  # the change page too: in words, like the list's actor column
    list_display = ("at", "actor_name", "action", "dealer", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_id", "dealer__number")
    list_select_related = ("dealer", "actor")
    date_hierarchy = "at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return with_api_key_names(super().get_queryset(request))

    @admin.display(description=_("actor"), ordering="actor_label")
    def actor_name(self, obj: AuditEvent) -> str:
        """Who, in words: a person's name, "Automatic routing", "API key <name> (<dealership>)"."""
        if obj.actor is not None:
            return obj.actor.get_full_name() or obj.actor.email
        prefix = obj.actor_label.partition(":")[2]
        name = getattr(obj, "api_key_name", None)
        owner = getattr(obj, "api_key_dealer", None) or _("manufacturer")
        keys = {prefix: str(_("API key %(name)s (%(dealer)s)") % {"name": name, "dealer": owner})} if name else {}
        return describe_actor(obj.actor_label, api_keys=keys)


class ApiKeyAddForm(forms.ModelForm):
    """A new key: its dealership (empty: a manufacturer key for lead intake), name and scopes."""

    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A manufacturer key (no dealership) may hold only intake:write."),
    )

    class Meta:
        model = ApiKey
        fields = ("dealer", "name", "expires_at")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "scopes" in cleaned:
            try:
                cleaned["scopes"] = clean_scopes(cleaned["scopes"], manufacturer=cleaned.get("dealer") is None)
            except ValidationError as error:
                self.add_error("scopes", error.message_dict["scopes"])
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(ActorNamesAdmin, admin.ModelAdmin):
    """Manufacturer staff issue, rotate and revoke keys; a new key is shown once, on the page that made it."""

    actor_fields = ("created_by",)  # the person's name, not their sign-in (dealers.admin_base)

    list_display = ("prefix", "name", "dealer", "scope_list", "key_status", "created_at", "last_used_at", "expires_at")
    list_filter = (("dealer", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "dealer__number", "dealer__name")
    list_select_related = ("dealer",)
    autocomplete_fields = ("dealer",)
    actions = ("rotate_keys", "revoke_keys")
    readonly_fields = (
        "prefix",
        "dealer",
        "scopes",
        "created_at",
        "created_by",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "replaced_by",
    )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self._in_words(self.readonly_fields)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("dealer", "name", "scopes", "expires_at")
        return ("name", *self._in_words(self.readonly_fields))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the audit trail keeps the key's prefix

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description=_("status"))
    def key_status(self, obj: ApiKey) -> str:
        return obj.status()

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)  # only the name can change
            return
        issued = create_api_key(
            dealer=form.cleaned_data.get("dealer"),
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            actor=Actor.for_user(request.user),
            expires_at=form.cleaned_data.get("expires_at"),
        )
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        request._issued_api_keys = [issued]  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        return self._show_once(request, getattr(request, "_issued_api_keys", []))

    def _show_once(self, request: HttpRequest, issued: list[Any]) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "issued": issued, "opts": self.model._meta}
        response = TemplateResponse(request, "admin/dealers/apikey/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(
        description=_("Rotate the selected keys (the old ones keep working for 24 hours)"), permissions=["change"]
    )
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponse | None:
        issued = []
        for key in queryset.order_by("pk"):
            try:
                issued.append(rotate_api_key(api_key=key, actor=Actor.for_user(request.user)))
            except ValidationError as error:
                self.message_user(request, f"{key.prefix}: {' '.join(error.messages)}", level=messages.WARNING)
        return self._show_once(request, issued) if issued else None

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.order_by("pk"):
            revoke_api_key(api_key=key, actor=Actor.for_user(request.user))
        self.message_user(request, _("Revoked %(count)d keys.") % {"count": queryset.count()})


if admin.site.is_registered(AccessAttempt):
    _AxesAccessAttemptAdmin: Any = type(admin.site._registry[AccessAttempt])

    class AccessAttemptAdmin(_AxesAccessAttemptAdmin):
        """django-axes' lockout records; its clean-up action deletes rows, so it needs the delete permission."""

        @admin.action(description=_("Clean up expired attempts"), permissions=["delete"])
        def cleanup_expired_attempts(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
            super().cleanup_expired_attempts(request, queryset)

    admin.site.unregister(AccessAttempt)
    admin.site.register(AccessAttempt, AccessAttemptAdmin)
