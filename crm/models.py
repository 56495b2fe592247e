"""The prospect and lead domain: prospects, leads, their timeline, tasks, consents and the change log.

Every table here is owned by one dealership (``dealer_id``) and read through
``visible_to`` (dealers.scoping). Rows change only through ``crm.services``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Self
from uuid import UUID

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.countries import country_choices
from dealers.fields import actor_field, actor_label_field, created_field, dealership_field, optional_link, updated_field
from dealers.ids import uuid7
from dealers.models import Dealer, language_field
from dealers.scoping import DealerScopedQuerySet, Viewer


class CurrentTransactionId(models.Func):
    """``pg_current_xact_id()`` as a bigint: the writing transaction's id, for the change feed's horizon."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()


class DealerOwnedModel(models.Model):
    """A record owned by one dealership (its tenant, ``dealer_id``), with a public, time-ordered UUID."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    dealer = dealership_field()

    class Meta:
        abstract = True


class VersionedModel(DealerOwnedModel):
    """A dealer-owned record with the dealer system's own id and a version.

    ``version`` grows by one on every change: it is the ETag of the API and ``data.version``
    of webhooks, so a receiver applies only what is newer than what it holds.
    """

    external_id = models.CharField(  # noqa: DJ001 -- NULL, not "", so the unique key skips rows without one
        _("dealer system id"), max_length=100, null=True, blank=True, help_text=_("The id in the dealer's own system.")
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = created_field()
    updated_at = updated_field()

    class Meta:
        abstract = True
        # The dealer system's id names one record per dealership; rows without one are not compared.
        # Subclasses' Meta inherit this one; "%(class)s" keeps each table's constraint name (prospect_external_id).
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["dealer", "external_id"], condition=Q(external_id__isnull=False), name="%(class)s_external_id"
            )
        ]


class NetworkSharedQuerySet(DealerScopedQuerySet):
    """Rows of a dealership, plus the manufacturer's network-wide ones (``dealer`` null) that every dealership reads."""

    def visible_to(self, viewer: Viewer | None) -> Self:
        if viewer is None:
            return self.none()
        return self.filter(Q(dealer_id=viewer.dealer_id) | Q(dealer__isnull=True))


class ProspectQuerySet(DealerScopedQuerySet):
    owner_field = "owner"

    def active(self) -> ProspectQuerySet:
        return self.filter(merged_into__isnull=True, erased_at__isnull=True)


class Prospect(VersionedModel):
    """A person or company interested in buying (Interessent)."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    class Salutation(models.TextChoices):
        NONE = "", _("(none)")
        MR = "mr", _("Mr")
        MS = "ms", _("Ms")
        DIVERSE = "diverse", _("Diverse")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        SMS = "sms", _("SMS")
        LETTER = "letter", _("Letter")

    class Origin(models.TextChoices):
        SHOWROOM = "showroom", _("Showroom")
        PHONE = "phone", _("Phone")
        WEBSITE = "website", _("Website")
        INTAKE = "intake", _("Manufacturer lead")
        DMS = "dms", _("Dealer system")
        IMPORT = "import", _("File import")
        EVENT = "event", _("Event")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PERSON)
    salutation = models.CharField(_("salutation"), max_length=10, choices=Salutation.choices, blank=True)
    title = models.CharField(_("title"), max_length=50, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164, e.g. +4989123456"))
    mobile = models.CharField(_("mobile"), max_length=20, blank=True, help_text=_("E.164, e.g. +4917012345678"))
    street = models.CharField(_("street"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="DE", choices=country_choices)
    preferred_channel = models.CharField(_("preferred channel"), max_length=10, choices=Channel.choices, blank=True)
    preferred_language = language_field(_("preferred language"))
    owner = optional_link(settings.AUTH_USER_MODEL, _("salesperson"))
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices, default=Origin.SHOWROOM)
    # Folded text (see crm.normalize.fold) that search and duplicate detection run on.
    search_text = models.TextField(editable=False, default="")
    email_normalized = models.CharField(max_length=254, editable=False, default="")
    # The last name as duplicate detection compares it (crm.dedupe.name_key). Stored, not an index expression:
    # row-level security keeps conditions with functions that are not leakproof out of an index.
    name_key = models.TextField(editable=False, default="", db_default="")
    # The name as lists sort it (crm.normalize.sort_name): German order whatever the database's collation.
    sort_name = models.TextField(editable=False, default="", db_default="")
    # What crm.services.prospects.fill_search_fields derives from the contact data; saved with it.
    SEARCH_FIELDS: ClassVar = ("search_text", "email_normalized", "name_key", "sort_name")
    # The order of every list of prospects by name (the UI's list, exports, previews), read from an index.
    NAME_ORDER: ClassVar = ("sort_name", "id")
    merged_into = optional_link("self", _("merged into"))
    erased_at = models.DateTimeField(_("anonymised"), null=True, blank=True)
    # Set when this prospect's email or phone matches an erasure tombstone of the dealership: the person
    # asked to be erased on that date, and staff must check before working with them again.
    previously_erased_at = models.DateTimeField(
        _("erased before"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The person asked to be erased on this date; their contact data came in again since."),
    )

    objects = ProspectQuerySet.as_manager()

    class Meta(VersionedModel.Meta):
        verbose_name = _("prospect")
        verbose_name_plural = _("prospects")
        ordering: ClassVar = ["sort_name", "id"]
        permissions: ClassVar = [("erase_prospect", _("Can erase a prospect's personal data (right to erasure)"))]
        indexes: ClassVar = [
            models.Index(fields=["dealer", "sort_name", "id"], name="prospect_sort_name"),
            models.Index(fields=["dealer", "updated_at", "id"], name="prospect_updated"),
            models.Index(fields=["dealer", "created_at", "id"], name="prospect_created"),  # the list's "newest first"
            # Pattern ops: they serve equality and the prefix ranges of search (crm.selectors.search_prospects).
            models.Index(
                fields=["dealer", "email_normalized"],
                opclasses=["int8_ops", "varchar_pattern_ops"],
                name="prospect_email_prefix",
            ),
            models.Index(
                fields=["dealer", "phone"], opclasses=["int8_ops", "varchar_pattern_ops"], name="prospect_phone_prefix"
            ),
            models.Index(
                fields=["dealer", "mobile"],
                opclasses=["int8_ops", "varchar_pattern_ops"],
                name="prospect_mobile_prefix",
            ),
            # A postcode and name match (crm.dedupe) reads its rows; postcode alone reads the first two columns.
            models.Index(fields=["dealer", "postcode", "name_key"], name="prospect_postcode_name"),
            models.Index(fields=["dealer", "owner"], name="prospect_owner"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.erased_at:
            return str(_("(anonymised)"))
        person = " ".join(p for p in (self.title, self.first_name, self.last_name) if p)
        if self.kind == self.Kind.COMPANY and self.company:
            return f"{self.company} ({person})" if person else self.company
        return person or self.company or self.email or str(_("(no name)"))


class LostReason(models.Model):
    """The manufacturer's managed list of reasons a lead was lost."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label_de = models.CharField(_("label (German)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")
        ordering: ClassVar = ["position", "code"]

    def __str__(self) -> str:
        from django.utils.translation import get_language

        return self.label_en if (get_language() or "de").startswith("en") else self.label_de


class LeadQuerySet(DealerScopedQuerySet):
    owner_field = "owner"

    def open(self) -> LeadQuerySet:
        return self.exclude(stage__in=Lead.CLOSED_STAGES)


# Lead.OPEN_STAGES, spelt out: Meta cannot see the class. Conditions of partial indexes: every open lead (the
# salespeople's open-lead index), and open leads still waiting for their first contact (the SLA sweep and the
# dashboard read those).
_OPEN_STAGE_NAMES = ["new", "contacted", "appointment", "test_drive", "offer"]
OPEN_LEADS = Q(stage__in=_OPEN_STAGE_NAMES)
WAITING_FOR_FIRST_CONTACT = Q(first_contacted_at__isnull=True, stage__in=_OPEN_STAGE_NAMES)


class Lead(VersionedModel):
    """A sales opportunity: what the prospect wants, where it stands and who works it."""

    class Type(models.TextChoices):
        NEW_CAR = "new_car", _("New car")
        USED_CAR = "used_car", _("Used car")
        TEST_DRIVE = "test_drive", _("Test drive")
        SERVICE = "service", _("Service")
        FINANCE = "finance", _("Finance/leasing offer")
        BROCHURE = "brochure", _("Brochure")

    class Source(models.TextChoices):
        WEBSITE = "website", _("Website")
        CONFIGURATOR = "configurator", _("Configurator")
        TEST_DRIVE_FORM = "test_drive_form", _("Test-drive form")
        CALL_CENTRE = "call_centre", _("Call centre")
        EVENT = "event", _("Event")
        PORTAL = "portal", _("Portal")
        SHOWROOM = "showroom", _("Showroom")
        PHONE = "phone", _("Phone")
        DMS = "dms", _("Dealer system")
        OTHER = "other", _("Other")

    class Stage(models.TextChoices):
        NEW = "new", _("New")
        CONTACTED = "contacted", _("Contacted")
        APPOINTMENT = "appointment", _("Appointment")
        TEST_DRIVE = "test_drive", _("Test drive")
        OFFER = "offer", _("Offer")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    class Rating(models.TextChoices):
        HOT = "hot", _("Hot")
        WARM = "warm", _("Warm")
        COLD = "cold", _("Cold")

    class Powertrain(models.TextChoices):
        PETROL = "petrol", _("Petrol")
        DIESEL = "diesel", _("Diesel")
        HYBRID = "hybrid", _("Hybrid")
        PLUGIN_HYBRID = "phev", _("Plug-in hybrid")
        ELECTRIC = "electric", _("Electric")
        OTHER = "other", _("Other")

    class Condition(models.TextChoices):
        NEW = "new", _("New")
        USED = "used", _("Used")

    CLOSED_STAGES: ClassVar = (Stage.WON, Stage.LOST)
    OPEN_STAGES: ClassVar = (Stage.NEW, Stage.CONTACTED, Stage.APPOINTMENT, Stage.TEST_DRIVE, Stage.OFFER)

    prospect = models.ForeignKey(Prospect, verbose_name=_("prospect"), on_delete=models.PROTECT, related_name="leads")
    lead_type = models.CharField(_("type"), max_length=12, choices=Type.choices, default=Type.NEW_CAR)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.SHOWROOM)
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    # Vehicle of interest
    model_name = models.CharField(_("model"), max_length=100, blank=True)
    trim = models.CharField(_("trim"), max_length=100, blank=True)
    powertrain = models.CharField(_("powertrain"), max_length=10, choices=Powertrain.choices, blank=True)
    configuration_code = models.CharField(_("configuration code"), max_length=100, blank=True)
    vehicle_condition = models.CharField(_("new/used"), max_length=4, choices=Condition.choices, default=Condition.NEW)
    vin = models.CharField(_("VIN"), max_length=17, blank=True)
    stock_number = models.CharField(_("stock number"), max_length=50, blank=True)
    list_price = models.DecimalField(_("list price (EUR)"), max_digits=10, decimal_places=2, null=True, blank=True)
    # Trade-in
    tradein_make = models.CharField(_("trade-in make"), max_length=50, blank=True)
    tradein_model = models.CharField(_("trade-in model"), max_length=100, blank=True)
    tradein_first_registration = models.DateField(_("trade-in first registration"), null=True, blank=True)
    tradein_mileage = models.PositiveIntegerField(_("trade-in mileage (km)"), null=True, blank=True)
    # Pipeline
    stage = models.CharField(_("stage"), max_length=12, choices=Stage.choices, default=Stage.NEW)
    rating = models.CharField(_("rating"), max_length=4, choices=Rating.choices, blank=True)
    expected_purchase_date = models.DateField(_("expected purchase"), null=True, blank=True)
    financing_interest = models.BooleanField(_("interested in financing"), default=False)
    contact_channel = models.CharField(
        _("preferred contact channel"), max_length=10, choices=Prospect.Channel.choices, blank=True, default=""
    )
    owner = optional_link(settings.AUTH_USER_MODEL, _("salesperson"))
    first_contact_due_at = models.DateTimeField(_("first contact due"), null=True, blank=True)
    first_contacted_at = models.DateTimeField(_("first contacted"), null=True, blank=True)
    lost_reason = optional_link(LostReason, _("lost reason"), on_delete=models.PROTECT)
    close_note = models.TextField(_("close note"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    message = models.TextField(_("customer message"), blank=True)

    objects = LeadQuerySet.as_manager()

    class Meta(VersionedModel.Meta):
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            *VersionedModel.Meta.constraints,
            models.CheckConstraint(
                condition=~Q(stage="lost") | Q(lost_reason__isnull=False), name="lost_lead_has_reason"
            ),
            models.CheckConstraint(condition=~Q(stage="won") | ~Q(close_note=""), name="won_lead_has_note"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["dealer", "-created_at", "-id"], name="lead_created_keyset"),
            models.Index(fields=["dealer", "updated_at", "id"], name="lead_updated"),
            models.Index(fields=["dealer", "stage", "owner"], name="lead_stage_owner"),
            models.Index(fields=["dealer", "owner", "first_contact_due_at"], name="lead_owner_due"),
            models.Index(fields=["prospect"], name="lead_prospect"),
            # Each salesperson's open leads: the intake counts them up to the salesperson's capacity under
            # the dealership's lock, for the whole staff in one statement (sync.inbound.routing). There the
            # salesperson is the outer row's, so the planner cannot see how many leads a salesperson has
            # closed; with this index it reads only open ones, whatever it guesses.
            models.Index(fields=["dealer", "owner"], condition=OPEN_LEADS, name="lead_open_owner"),
            # Open leads still waiting for their first contact, by deadline:
            # the SLA sweep and the breach gauge read it without touching the table.
            models.Index(
                fields=["first_contact_due_at"],
                include=["id", "dealer", "created_at"],
                condition=WAITING_FOR_FIRST_CONTACT,
                name="lead_first_contact_waiting",
            ),
            # The same leads within one dealership, in the dashboard's order: its waiting list reads 12 entries.
            models.Index(
                fields=["dealer", "first_contact_due_at", "created_at", "id"],
                condition=WAITING_FOR_FIRST_CONTACT,
                name="lead_dealer_waiting",
            ),
            # Closed leads by closing time with their outcome: the month's won and lost without older leads.
            models.Index(
                fields=["dealer", "closed_at"],
                include=["stage"],
                condition=Q(closed_at__isnull=False),
                name="lead_dealer_closed",
            ),
        ]

    def __str__(self) -> str:
        vehicle = " ".join(p for p in (self.model_name, self.trim) if p) or self.get_lead_type_display()
        return f"{vehicle} · {self.prospect}"

    @property
    def is_closed(self) -> bool:
        return self.stage in self.CLOSED_STAGES

    @property
    def first_contact_overdue(self) -> bool:
        return bool(
            self.first_contact_due_at and not self.first_contacted_at and self.first_contact_due_at < timezone.now()
        )


class VehicleModel(models.Model):
    """One version of the manufacturer's model range (model, trim, powertrain) with its list price.

    Network-wide reference data the manufacturer maintains in the admin (no dealership, no row-level
    security, like ``LostReason``). A lead copies the names, not a key, so retiring a version
    (``is_active`` off) never changes a lead; read it through ``crm.catalogue``.
    """

    model_name = models.CharField(_("model"), max_length=100)
    trim = models.CharField(_("trim"), max_length=100, blank=True)
    powertrain = models.CharField(_("powertrain"), max_length=10, choices=Lead.Powertrain.choices)
    list_price = models.DecimalField(_("list price (EUR, gross)"), max_digits=10, decimal_places=2)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("vehicle model")
        verbose_name_plural = _("model catalogue")
        ordering: ClassVar = ["position", "model_name", "trim", "powertrain"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["model_name", "trim", "powertrain"], name="vehiclemodel_unique_version")
        ]

    def __str__(self) -> str:
        name = " ".join(p for p in (self.model_name, self.trim) if p)
        return f"{name} ({self.get_powertrain_display()})"


class LeadEvent(models.Model):
    """The lead's history: stage changes, assignments, routing decisions, escalations; who and when."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STAGE_CHANGED = "stage_changed", _("Stage changed")
        ASSIGNED = "assigned", _("Assigned")
        ROUTED = "routed", _("Routed")
        ESCALATED = "escalated", _("Escalated")
        CLOSED = "closed", _("Closed")
        REOPENED = "reopened", _("Reopened")
        UPDATED = "updated", _("Updated")
        MOVED = "moved", _("Moved by merge")

    id = models.BigAutoField(primary_key=True)
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    from_stage = models.CharField(_("from"), max_length=12, blank=True)
    to_stage = models.CharField(_("to"), max_length=12, blank=True)
    actor = actor_field()
    actor_label = actor_label_field(_("by"), blank=False)
    data = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead event")
        verbose_name_plural = _("lead events")
        ordering: ClassVar = ["at", "id"]
        indexes: ClassVar = [
            models.Index(fields=["lead", "at"], name="leadevent_lead_at"),
            # A dealership's escalated leads (a few), so the dashboard need not look at every waiting lead's events.
            models.Index(fields=["dealer", "lead"], condition=Q(kind="escalated"), name="leadevent_escalated"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class ChildQuerySet(DealerScopedQuerySet):
    """Rows that belong to another record (``parent_field``): a salesperson sees them where they see that record."""

    parent_field: ClassVar[str]

    def visible_to(self, viewer: Viewer | None) -> Self:
        qs = super().visible_to(viewer)
        if viewer is not None and viewer.restricted_to_own:
            parent = self.model._meta.get_field(self.parent_field).related_model
            qs = qs.filter(**{f"{self.parent_field}__in": parent.objects.visible_to(viewer).values("pk")})
        return qs


class ProspectChildQuerySet(ChildQuerySet):
    """Rows that belong to a prospect: a salesperson sees them where they see the prospect."""

    parent_field = "prospect"


class Activity(VersionedModel):
    """Something that happened with a prospect: a call, an email, a meeting, a test drive, a note."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        EMAIL = "email", _("Email")
        MEETING = "meeting", _("Meeting")
        TEST_DRIVE = "test_drive", _("Test drive")
        NOTE = "note", _("Note")

    class Direction(models.TextChoices):
        NONE = "", _("(none)")
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class Outcome(models.TextChoices):
        """How a call went; other kinds of activity have none (crm.services.activities checks)."""

        NONE = "", _("(none)")
        REACHED = "reached", _("Reached")
        NOT_REACHED = "not_reached", _("Not reached")
        VOICEMAIL = "voicemail", _("Voicemail left")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        CALL_BACK_REQUESTED = "call_back_requested", _("Call-back requested")

    prospect = models.ForeignKey(
        Prospect, verbose_name=_("prospect"), on_delete=models.PROTECT, related_name="activities"
    )
    lead = optional_link(Lead, _("lead"), related_name="activities")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices, blank=True)
    # db_default too: an insert by code of the release before (a rolling deploy, bench/datagen.py) names no outcome.
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=Outcome.choices, blank=True, default="", db_default=""
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("notes"), blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    author = actor_field(_("by"))
    author_label = actor_label_field(_("by"))

    objects = ProspectChildQuerySet.as_manager()

    class Meta(VersionedModel.Meta):
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering: ClassVar = ["-occurred_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["prospect", "-occurred_at"], name="activity_prospect"),
            models.Index(fields=["lead", "-occurred_at"], name="activity_lead"),
            models.Index(fields=["dealer", "updated_at", "id"], name="activity_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}" if self.subject else self.get_kind_display()


class TaskQuerySet(DealerScopedQuerySet):
    owner_field = "assignee"

    def open(self) -> TaskQuerySet:
        return self.filter(done_at__isnull=True)


class Task(VersionedModel):
    """A follow-up someone must do by a due time."""

    prospect = optional_link(Prospect, _("prospect"), on_delete=models.PROTECT, related_name="tasks")
    lead = optional_link(Lead, _("lead"), related_name="tasks")
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    due_at = models.DateTimeField(_("due"))
    assignee = optional_link(settings.AUTH_USER_MODEL, _("assignee"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    created_by_label = actor_label_field(_("created by"))

    objects = TaskQuerySet.as_manager()

    class Meta(VersionedModel.Meta):
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering: ClassVar = ["due_at", "id"]
        indexes: ClassVar = [
            models.Index(fields=["dealer", "assignee", "done_at", "due_at"], name="task_assignee_due"),
            models.Index(fields=["dealer", "updated_at", "id"], name="task_updated"),
            # Open tasks by due time: a manager's overdue and upcoming lists read 12 entries each.
            models.Index(fields=["dealer", "due_at", "id"], condition=Q(done_at__isnull=True), name="task_open_due"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_overdue(self) -> bool:
        return self.done_at is None and self.due_at < timezone.now()


class Consent(models.Model):
    """One entry of a prospect's consent ledger: never changed, a withdrawal is a new entry."""

    class Purpose(models.TextChoices):
        MARKETING_EMAIL = "marketing_email", _("Marketing by email")
        MARKETING_PHONE = "marketing_phone", _("Marketing by phone")
        MARKETING_SMS = "marketing_sms", _("Marketing by SMS")
        MARKETING_POST = "marketing_post", _("Marketing by post")
        MANUFACTURER_SHARING = "manufacturer_sharing", _("Sharing with the manufacturer")

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="+")
    prospect = models.ForeignKey(Prospect, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=24, choices=Purpose.choices)
    channel = models.CharField(_("collected via"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    at = models.DateTimeField(_("time"), default=timezone.now)
    source = models.CharField(_("source"), max_length=100, blank=True)
    text_version = models.CharField(_("consent text version"), max_length=50, blank=True)
    double_opt_in_at = models.DateTimeField(_("double opt-in confirmed"), null=True, blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    recorded_by = actor_label_field(_("recorded by"))

    objects = ProspectChildQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering: ClassVar = ["-at"]
        indexes: ClassVar = [models.Index(fields=["prospect", "purpose", "-at"], name="consent_current")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()}: {self.get_status_display()}"


class Change(models.Model):
    """The change log: one row per change a dealer system must learn of, written in the changing transaction.

    Two readers: the API's change feed and sync's relay (docs/architecture.md). ``txid`` is the
    writing transaction's id; readers take only rows below the oldest running transaction
    (``pg_snapshot_xmin``), so a row committed late is never skipped.
    """

    id = models.BigAutoField(primary_key=True)
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="+")
    txid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)
    event_id = models.UUIDField(default=uuid7, unique=True, editable=False)
    type = models.CharField(max_length=40)
    object_type = models.CharField(max_length=20)
    object_id = models.UUIDField()
    version = models.PositiveIntegerField()
    occurred_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict)

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("change")
        verbose_name_plural = _("change log")
        ordering: ClassVar = ["txid", "id"]
        indexes: ClassVar = [
            models.Index(fields=["dealer", "txid", "id"], name="change_feed"),
            models.Index(fields=["occurred_at"], name="change_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_id} v{self.version}"


class ErasureTombstone(models.Model):
    """A keyed hash (HMAC) of an erased person's normalised email or phone number, per dealership.

    Holds no personal data: only the hash, so a later intake, import or API upsert of the same
    person at the same dealership is flagged (``Prospect.previously_erased_at``) instead of silently
    re-created. Per dealership, like the prospect it replaces: the same person may be a prospect at
    another dealership, which must not learn of the erasure. ``prospect_id`` lets a restore re-apply
    erasures made after its backup.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")

    id = models.BigAutoField(primary_key=True)
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="+")
    prospect_id = models.UUIDField(_("erased prospect"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    digest = models.CharField(_("keyed hash"), max_length=64)
    erased_at = models.DateTimeField(_("erased"), default=timezone.now)

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("erasure tombstone")
        verbose_name_plural = _("erasure tombstones")
        ordering: ClassVar = ["-erased_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["dealer", "digest"], name="tombstone_digest")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.erased_at:%Y-%m-%d}"


class FeedEpoch(models.Model):
    """The change feed's epoch: bumped after a restore or a pruned history, so old cursors get 410 Gone."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    epoch = models.PositiveIntegerField(default=1)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("change feed epoch")

    def __str__(self) -> str:
        return f"epoch {self.epoch}"


class OperationalCounter(models.Model):
    """A network-wide event count that ``/metrics`` reports as ``crm_<name>_total`` (any node answers the same).

    For rare events only, such as the API rate limit failing open: each one is a write (crm.counters).
    """

    name = models.CharField(primary_key=True, max_length=100)
    value = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("operational counter")

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


def as_payload_value(value: Any) -> Any:
    """JSON-safe value for change-log payloads (called per field of every written row: kept cheap)."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


class RetentionRule(models.Model):
    """How long one kind of personal data is kept, set by the data protection officer (docs/data-protection.md).

    The periodic retention job (crm.services.retention) applies every enabled rule; a prospect with an
    open lead is never touched, whatever the rule says.
    """

    class Kind(models.TextChoices):
        INACTIVE_PROSPECTS = "inactive_prospects", _("Prospects without lead, activity or consent")
        CLOSED_LEADS = "closed_leads", _("Closed leads")
        INTAKE_DOCUMENTS = "intake_documents", _("Intake documents as received")
        IMPORT_FILES = "import_files", _("File imports and their row errors")

    class Unit(models.TextChoices):
        DAYS = "days", _("days")
        MONTHS = "months", _("months")
        YEARS = "years", _("years")

    class Action(models.TextChoices):
        ANONYMISE = "anonymise", _("Anonymise")
        DELETE = "delete", _("Delete")

    kind = models.CharField(_("kind of data"), max_length=32, choices=Kind.choices, unique=True)
    period = models.PositiveIntegerField(_("kept for"))
    unit = models.CharField(_("unit"), max_length=6, choices=Unit.choices)
    action = models.CharField(_("then"), max_length=10, choices=Action.choices, default=Action.ANONYMISE)
    enabled = models.BooleanField(_("enabled"), default=True)
    note = models.TextField(_("legal basis and reason"), blank=True)
    changed_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention rules")
        ordering: ClassVar = ["kind"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(period__gt=0), name="retention_rule_period_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.period} {self.get_unit_display()}"


class RetentionRun(models.Model):
    """The report of one retention run or dry run: what each rule selected (ids only, no personal values)."""

    class Trigger(models.TextChoices):
        JOB = "job", _("Periodic job")
        COMMAND = "command", _("Command")
        ADMIN = "admin", _("Admin")

    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    trigger = models.CharField(_("started by"), max_length=10, choices=Trigger.choices)
    started_by = actor_label_field(_("who"))
    # {kind: {"action": ..., "cutoff": iso, "count": n, "ids": [...]}}, ids capped (crm.services.retention).
    report = models.JSONField(_("report"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering: ClassVar = ["-started_at", "-id"]

    def __str__(self) -> str:
        kind = _("dry run") if self.dry_run else _("run")
        return f"{kind} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def total(self) -> int:
        return sum(int(entry.get("count", 0)) for entry in self.report.values())


# Defined beside the code that writes it; imported here so the app registry finds the model.
from crm.lead_counts import LeadStageCount  # noqa: E402, F401
from crm.read_audit import ReadAudit  # noqa: E402, F401
