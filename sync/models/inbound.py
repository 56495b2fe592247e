"""Inbound models: intake documents, routing state of leads, round-robin pointers, file imports."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealers.fields import actor_field, actor_label_field, dealership_field, optional_link
from dealers.ids import uuid7
from dealers.models import ApiKey, Dealer, Membership
from dealers.scoping import DealerScopedQuerySet

__all__ = ["ImportRowError", "ImportRun", "IntakeDocument", "LeadRouting", "RoundRobinPointer", "UnroutedLead"]


class IntakeDocument(models.Model):
    """One document a manufacturer channel sent to the intake endpoint, accepted or not, kept as received."""

    class Format(models.TextChoices):
        JSON = "json", _("JSON")
        ADF = "adf", _("ADF XML")
        UNKNOWN = "unknown", _("Unknown")

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed (internal error)")
        UNROUTED = "unrouted", _("Accepted, waiting for the lead desk")

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    format = models.CharField(_("format"), max_length=10, choices=Format.choices, default=Format.UNKNOWN)
    content_type = models.CharField(_("content type"), max_length=200, blank=True)
    body = models.BinaryField(_("body as received"))
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    truncated = models.BooleanField(_("body truncated"), default=False)
    api_key = optional_link(ApiKey, _("API key"))
    api_key_prefix = models.CharField(_("API key prefix"), max_length=40, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, blank=True)
    external_reference = models.CharField(_("channel reference"), max_length=200, blank=True)
    source = models.CharField(_("channel"), max_length=40, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    errors = models.JSONField(_("field errors"), default=dict, blank=True)
    dealer = dealership_field(models.SET_NULL, optional=True)
    lead = optional_link("crm.Lead", _("lead"))
    # The person's contact keys (crm.dedupe.contact_keys: "email:...", "phone:+49..."), the intake's and its
    # prospect's, set when the lead is created: a later intake of the same person finds this one through
    # them (sync.inbound.routing.follow_recent_intake) by index, however many documents the window holds.
    contact_keys = ArrayField(
        models.CharField(max_length=260),
        verbose_name=_("contact keys"),
        default=list,
        db_default=models.Value([], output_field=ArrayField(models.CharField(max_length=260))),
        blank=True,
        editable=False,
    )

    class Meta:
        verbose_name = _("intake document")
        verbose_name_plural = _("intake documents")
        ordering: ClassVar = ["-received_at"]
        indexes: ClassVar = [
            models.Index(fields=["status", "-received_at"], name="intake_doc_status"),
            models.Index(fields=["external_reference"], name="intake_doc_reference"),
            # Without the pending list: every intake looks up a person's keys, and a lookup scans the whole
            # list of entries not yet merged (1.6 ms against 0.05 ms after a run of 1,800 intakes).
            GinIndex(fields=["contact_keys"], name="intake_doc_contact_keys", fastupdate=False),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} {self.received_at:%Y-%m-%d %H:%M:%S} {self.get_status_display()}"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class LeadRouting(models.Model):
    """How an intake lead was routed, and how far its first-contact escalation has gone.

    ``escalation_level`` 0: none yet; 1: the sales manager was told; 2: the regional manager was
    told. ``next_escalation_at`` is when the next level is due (None: nothing more to do).
    """

    class Method(models.TextChoices):
        CHOSEN = "chosen", _("Dealer chosen by the customer")
        TERRITORY = "territory", _("Postcode territory")
        FALLBACK = "fallback", _("Nearest active dealer")
        CITY = "city", _("City in a territory")
        AREA_CODE = "area_code", _("Phone area code in a territory")
        LEAD_DESK = "lead_desk", _("Assigned by the lead desk")
        DEALERSHIP = "dealership", _("Entered by the dealership itself")

    lead = models.OneToOneField(
        "crm.Lead", verbose_name=_("lead"), on_delete=models.CASCADE, primary_key=True, related_name="routing"
    )
    dealer = dealership_field(models.CASCADE)
    method = models.CharField(_("routed by"), max_length=10, choices=Method.choices)
    decisions = models.JSONField(_("decisions"), default=dict)
    first_contact_due_at = models.DateTimeField(_("first contact due"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    next_escalation_at = models.DateTimeField(_("next escalation"), null=True, blank=True)
    last_escalated_at = models.DateTimeField(_("last escalated"), null=True, blank=True)
    created_at = models.DateTimeField(_("routed"), default=timezone.now)

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead routing")
        verbose_name_plural = _("lead routings")
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [
            models.Index(
                fields=["next_escalation_at"],
                condition=models.Q(next_escalation_at__isnull=False),
                name="routing_escalation_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} → {self.dealer_id} ({self.method})"


class UnroutedLeadQuerySet(DealerScopedQuerySet):
    def waiting(self) -> UnroutedLeadQuerySet:
        return self.filter(assigned_at__isnull=True)


class UnroutedLead(models.Model):
    """A valid intake lead no routing step could place, parked for the manufacturer's lead desk.

    A lead needs a dealership (its tenant), so until the lead desk assigns one the intake waits
    here with its validated payload, the routing steps' suggestion, and its own deadline. A waiting
    lead has no dealership, so row-level security shows it to the manufacturer-wide scope only.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    document = models.OneToOneField(
        IntakeDocument, verbose_name=_("intake document"), on_delete=models.PROTECT, related_name="unrouted"
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    source = models.CharField(_("channel"), max_length=40, blank=True)
    customer_name = models.CharField(_("customer"), max_length=300, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    payload = models.JSONField(
        _("intake payload"), help_text=_("The validated intake document, read again on assigning.")
    )
    routing = models.JSONField(
        _("routing steps"), default=dict, help_text=_("What the routing steps saw, and their suggestion.")
    )
    due_at = models.DateTimeField(_("lead desk deadline"))
    desk_alerted_at = models.DateTimeField(_("lead desk alerted"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    assigned_by = actor_field(_("assigned by"))
    dealer = dealership_field(models.SET_NULL, optional=True)
    lead = optional_link("crm.Lead", _("lead"))

    objects = UnroutedLeadQuerySet.as_manager()

    class Meta:
        verbose_name = _("unrouted lead")
        verbose_name_plural = _("unrouted leads")
        ordering: ClassVar = ["received_at"]
        indexes: ClassVar = [
            models.Index(fields=["due_at"], condition=models.Q(assigned_at__isnull=True), name="unrouted_lead_waiting"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name or self.pk} ({self.received_at:%Y-%m-%d %H:%M})"

    @property
    def suggestion(self) -> dict[str, Any] | None:
        suggested: dict[str, Any] | None = self.routing.get("suggestion")
        return suggested


class RoundRobinPointer(models.Model):
    """Per dealership: the salesperson who got the last lead. Locked (FOR UPDATE) while choosing the next."""

    dealer = models.OneToOneField(Dealer, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_membership = optional_link(Membership)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("round-robin pointer")
        verbose_name_plural = _("round-robin pointers")

    def __str__(self) -> str:
        return f"{self.dealer_id}: {self.last_membership_id}"


class ImportRunQuerySet(DealerScopedQuerySet):
    def pending(self) -> ImportRunQuerySet:
        return self.filter(status__in=[ImportRun.Status.QUEUED, ImportRun.Status.RUNNING])


class ImportRun(models.Model):
    """One inbound CSV file (uploaded or dropped) and what became of its rows."""

    class Kind(models.TextChoices):
        PROSPECTS = "prospects", _("Prospects")
        LEAD_STATUS = "lead_status", _("Lead status")
        UNKNOWN = "unknown", _("Unknown")

    class Origin(models.TextChoices):
        UPLOAD = "upload", _("Upload")
        DROP = "drop", _("Drop folder")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        PARTIAL = "partial", _("Done with row errors")
        FAILED = "failed", _("File rejected")

    dealer = dealership_field(models.CASCADE)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.UNKNOWN)
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices)
    filename = models.CharField(_("file name"), max_length=255)
    stored_path = models.CharField(_("kept at"), max_length=500, blank=True)
    content = models.BinaryField(_("file content"), null=True, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=1, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    error = models.CharField(_("file error"), max_length=500, blank=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_ok = models.PositiveIntegerField(_("rows applied"), default=0)
    rows_failed = models.PositiveIntegerField(_("rows with errors"), default=0)
    rows_processed = models.PositiveIntegerField(
        _("rows processed"), default=0, db_default=0, help_text=_("Rows of the file already applied or reported.")
    )
    actor_label = actor_label_field(_("by"))
    uploaded_by = optional_link(
        Membership,
        _("uploaded by"),
        help_text=_("The membership the upload is imported for; the import stops if it ends before."),
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    # A worker importing the file holds the lease; a run whose lease expired (its worker died) is taken over.
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ImportRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("file import")
        verbose_name_plural = _("file imports")
        ordering: ClassVar = ["-started_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["dealer", "-started_at"], name="import_run_dealer"),
            models.Index(
                fields=["status", "lease_expires_at"],
                condition=models.Q(status__in=["queued", "running"]),
                name="import_run_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class ImportRowError(models.Model):
    """Why one row of an import was not applied."""

    run = models.ForeignKey(ImportRun, verbose_name=_("import"), on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField(_("line"), help_text=_("Line in the file; the header is line 1."))
    field = models.CharField(_("column"), max_length=100, blank=True)
    message = models.CharField(_("error"), max_length=500)
    row = models.JSONField(_("row"), default=dict, blank=True)

    class Meta:
        verbose_name = _("import row error")
        verbose_name_plural = _("import row errors")
        ordering: ClassVar = ["run", "line", "id"]

    def __str__(self) -> str:
        return f"{self.line}: {self.message}"
