"""The dealer network: users, dealer groups, regions, dealerships, territories and staff."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealers.fields import actor_field, actor_label_field, created_field, dealership_field, optional_link
from dealers.scoping import DealerScopedQuerySet

dealer_number_validator = RegexValidator(r"^\d{5}$", _("A dealer number has exactly five digits."))
postcode_validator = RegexValidator(r"^\d{5}$", _("A German postcode has exactly five digits."))
postcode_prefix_validator = RegexValidator(r"^\d{1,5}$", _("A postcode area is one to five digits."))


# Each language named in itself, so anyone finds theirs.
LANGUAGE_CHOICES: list[tuple[str, str]] = [("de", "Deutsch"), ("en", "English")]


def language_field(verbose_name: Any) -> models.CharField[str, str]:
    """The language a person is written to in (German or English)."""
    return models.CharField(verbose_name, max_length=8, default="de", choices=LANGUAGE_CHOICES)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        # Email addresses are matched case-insensitively at sign-in.
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address.

    Dealership staff reach dealers through memberships; manufacturer staff have ``is_staff``
    and Django groups (network admin, lead desk, data protection, analyst) for the admin site.
    """

    email = models.EmailField(_("email address"), unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    language = language_field(_("language"))
    is_staff = models.BooleanField(
        _("manufacturer staff"), default=False, help_text=_("Can sign in to the manufacturer's admin site.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints: ClassVar = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email


class DealerGroup(models.Model):
    """A company that owns several dealerships; its staff may work for more than one of them."""

    name = models.CharField(_("name"), max_length=200, unique=True)

    class Meta:
        verbose_name = _("dealer group")
        verbose_name_plural = _("dealer groups")
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


class Region(models.Model):
    """A sales area of the manufacturer, looked after by a regional manager."""

    code = models.CharField(_("code"), max_length=10, unique=True)
    name = models.CharField(_("name"), max_length=100)
    manager = optional_link(User, _("regional manager"), related_name="managed_regions")

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering: ClassVar = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Dealer(models.Model):
    """A franchised dealership: the tenant every dealer-owned row belongs to."""

    class Country(models.TextChoices):
        """The countries the network serves (ISO 3166 alpha-2): national phone numbers are read in the dealer's."""

        GERMANY = "DE", _("Germany")
        AUSTRIA = "AT", _("Austria")
        SWITZERLAND = "CH", _("Switzerland")

    DEFAULT_COUNTRY = Country.GERMANY.value

    number = models.CharField(_("dealer number"), max_length=5, unique=True, validators=[dealer_number_validator])
    name = models.CharField(_("name"), max_length=200)
    group = optional_link(DealerGroup, _("dealer group"), on_delete=models.PROTECT, related_name="dealers")
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="dealers")
    street = models.CharField(_("street"), max_length=200)
    postcode = models.CharField(_("postcode"), max_length=5, validators=[postcode_validator])
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(
        _("country"),
        max_length=2,
        choices=Country.choices,
        default=DEFAULT_COUNTRY,
        db_default=DEFAULT_COUNTRY,  # also for inserts by code still running an older release during a deploy
        help_text=_("Phone numbers without a country code are read as numbers of this country."),
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=8, decimal_places=5, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=8, decimal_places=5, null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive dealers receive no leads."))
    salespeople_see_unassigned = models.BooleanField(_("salespeople see unassigned leads"), default=True)
    first_contact_minutes = models.PositiveIntegerField(_("first-contact time (working minutes)"), default=120)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("dealership")
        verbose_name_plural = _("dealerships")
        ordering: ClassVar = ["number"]
        indexes: ClassVar = [models.Index(fields=["postcode"]), models.Index(fields=["region", "is_active"])]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class OpeningHours(models.Model):
    """One opening interval on a weekday; a day may have several (lunch break), or none (closed)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    dealer = models.ForeignKey(Dealer, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering: ClassVar = ["dealer", "weekday", "opens"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["dealer", "weekday", "opens"], name="opening_hours_unique"),
            models.CheckConstraint(condition=models.Q(opens__lt=models.F("closes")), name="opening_hours_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Territory(models.Model):
    """A postcode area (a prefix of one to five digits) whose leads go to one dealership.

    Routing takes the longest matching prefix, so a dealer can hold ``80`` while a
    neighbour holds ``803``.
    """

    dealer = dealership_field(models.CASCADE, related_name="territories")
    postcode_prefix = models.CharField(
        _("postcode area"), max_length=5, unique=True, validators=[postcode_prefix_validator]
    )

    class Meta:
        verbose_name = _("territory")
        verbose_name_plural = _("territories")
        ordering: ClassVar = ["postcode_prefix"]

    def __str__(self) -> str:
        return f"{self.postcode_prefix} → {self.dealer.number}"


class MembershipQuerySet(DealerScopedQuerySet):
    def active(self) -> MembershipQuerySet:
        return self.filter(is_active=True, user__is_active=True, dealer__is_active=True)


class Membership(models.Model):
    """A user's role at one dealership. A person may hold memberships at several dealers of a group."""

    class Role(models.TextChoices):
        SALESPERSON = "salesperson", _("Salesperson")
        SALES_MANAGER = "sales_manager", _("Sales manager")
        DEALER_ADMIN = "dealer_admin", _("Dealer administrator")

    dealer = dealership_field(models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SALESPERSON)
    is_active = models.BooleanField(_("active"), default=True)
    is_available = models.BooleanField(
        _("available for new leads"), default=True, help_text=_("Off while absent (holiday, sick leave).")
    )
    lead_capacity = models.PositiveIntegerField(
        _("capacity (open leads)"), default=50, help_text=_("Round robin skips a salesperson at capacity.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")
        ordering: ClassVar = ["dealer", "user__last_name", "user__first_name"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["dealer", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.dealer.number} ({self.get_role_display()})"

    @property
    def is_salesperson(self) -> bool:
        return self.role == self.Role.SALESPERSON

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.SALES_MANAGER, self.Role.DEALER_ADMIN)

    @property
    def is_dealer_admin(self) -> bool:
        return self.role == self.Role.DEALER_ADMIN

    @property
    def restricted_to_own(self) -> bool:
        return self.is_salesperson

    @property
    def sees_unassigned(self) -> bool:
        return self.dealer.salespeople_see_unassigned


class AuditEvent(models.Model):
    """Who did what to which record, and when: staff changes, exports, views of personal data."""

    dealer = dealership_field(models.CASCADE, optional=True)
    actor = actor_field(_("actor"))
    actor_label = actor_label_field(_("actor"), blank=False)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering: ClassVar = ["-at"]
        indexes: ClassVar = [models.Index(fields=["dealer", "-at"]), models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        from dealers.actors import describe_actor  # the page title in words too, not ``system:routing``

        return f"{self.at:%Y-%m-%d %H:%M} {describe_actor(self.actor_label)} {self.action}"


class ApiKeyQuerySet(DealerScopedQuerySet):
    def usable(self) -> ApiKeyQuerySet:
        """Neither revoked nor past its expiry (a rotated key works until its overlap ends)."""
        now = timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now), revoked_at__isnull=True)


class ApiKey(models.Model):
    """A dealer system's (or, with no dealership, the manufacturer's) key for the REST API.

    The key is ``<kind>_<prefix id>_<secret>``; ``prefix`` (``<kind>_<prefix id>``) identifies it
    and is shown everywhere, while the whole key is stored only as its SHA-256 and shown once.
    """

    class Scope(models.TextChoices):
        PROSPECTS_READ = "prospects:read", _("Read prospects")
        PROSPECTS_WRITE = "prospects:write", _("Create and change prospects")
        PROSPECTS_ERASE = "prospects:erase", _("Erase prospects (right to erasure)")
        LEADS_READ = "leads:read", _("Read leads")
        LEADS_WRITE = "leads:write", _("Create and change leads")
        ACTIVITIES_READ = "activities:read", _("Read activities")
        ACTIVITIES_WRITE = "activities:write", _("Create and change activities")
        TASKS_READ = "tasks:read", _("Read tasks")
        TASKS_WRITE = "tasks:write", _("Create and change tasks")
        CONSENTS_READ = "consents:read", _("Read consents")
        CONSENTS_WRITE = "consents:write", _("Record consents")
        CHANGES_READ = "changes:read", _("Read the change feed")
        INTAKE_WRITE = "intake:write", _("Submit leads (manufacturer channels)")

    DEALER_SCOPES: ClassVar[tuple[str, ...]] = (
        "prospects:read",
        "prospects:write",
        "prospects:erase",
        "leads:read",
        "leads:write",
        "activities:read",
        "activities:write",
        "tasks:read",
        "tasks:write",
        "consents:read",
        "consents:write",
        "changes:read",
    )
    MANUFACTURER_SCOPES: ClassVar[tuple[str, ...]] = ("intake:write",)

    dealer = dealership_field(
        models.CASCADE,
        optional=True,
        related_name="api_keys",
        help_text=_("Empty for the manufacturer's own keys (lead intake)."),
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("What the key is for, e.g. the DMS product."))
    prefix = models.CharField(_("prefix"), max_length=32, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), verbose_name=_("scopes"))
    created_at = created_field()
    created_by = models.CharField(_("created by"), max_length=200, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    replaced_by = optional_link("self", _("replaced by"))

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [models.Index(fields=["dealer", "-created_at"], name="apikey_dealer")]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    def status(self, now: Any = None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.expires_at is not None:
            return "expiring"
        return "active"


class IdempotencyRecord(models.Model):
    """A POST made with an ``Idempotency-Key``: claimed (in flight) first, then its response kept for 24 h."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")  # the JSON exactly as first sent
    response_headers = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints: ClassVar = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique")]
        indexes: ClassVar = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key}"


class InvitationQuerySet(DealerScopedQuerySet):
    def pending(self) -> InvitationQuerySet:
        """Neither accepted nor revoked nor past its expiry."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """A dealer administrator's invitation of an email address to a role at the dealership.

    Nobody becomes a member by being named: the person opens the emailed link (signed, expiring,
    single use), signs in as that address or creates the account, and accepts. The link's secret is
    stored only as its SHA-256.
    """

    dealer = dealership_field(models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=20, choices=Membership.Role.choices)
    secret_hash = models.CharField(max_length=64, editable=False)
    invited_by = actor_field(_("invited by"))
    created_at = created_field()
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = actor_field(_("accepted by"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("staff invitation")
        verbose_name_plural = _("staff invitations")
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            # One open invitation per address and dealership: inviting again replaces it.
            models.UniqueConstraint(
                "dealer",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_open_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} @ {self.dealer_id} ({self.role})"
