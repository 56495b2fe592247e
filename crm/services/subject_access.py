"""Right of access and portability (GDPR Art. 15 and 20; issue 13, item 2): everything about one person as a ZIP.

One service for the three doors: the prospect page (a dealer admin, that dealership's part), the admin
(the data protection officer, every dealership the person is a prospect at) and ``manage.py
export_person``. The ZIP holds ``subject.json`` (every section, machine-readable), one CSV per section
(always with its header row) and a ``README.txt`` saying what each holds.

Sections: the prospect records, leads, lead history, activities, tasks, consents, change-audit entries
and read-audit entries from ``crm`` and ``dealers``; other apps add theirs (sync: routing decisions and
deliveries sent to dealer systems) in a ``personal_data`` module that calls :func:`register_section`,
found as Django finds ``admin`` modules, because ``crm`` never imports ``sync``.

A person is found by normalised email or phone (crm.normalize), never by name: two people of one
household share a surname and a street, not an email address or mobile number. Cross-dealership
searches and exports run in the audited manufacturer-wide scope; every export writes one read-audit
row per exported prospect (``subject_export``).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from crm.models import Activity, Consent, Lead, LeadEvent, Prospect, Task
from crm.normalize import fold, normalize_email, normalize_phone
from crm.read_audit import ReadAudit, record_read, write_read_audit
from dealers import rls
from dealers.models import AuditEvent, Membership
from dealers.roles import DATA_PROTECTION

MAX_PROSPECTS = 200  # a search that finds more names no single person


@dataclass(frozen=True)
class Subject:
    """The ids of one person's records: what every section selects by."""

    prospect_ids: list[Any]
    dealer_ids: list[int]
    lead_ids: list[Any] = field(default_factory=list)
    activity_ids: list[Any] = field(default_factory=list)
    task_ids: list[Any] = field(default_factory=list)
    consent_ids: list[Any] = field(default_factory=list)

    @property
    def object_ids(self) -> list[str]:
        """Every record id of the person, as text (audit rows and the change log name objects by id)."""
        ids = [*self.prospect_ids, *self.lead_ids, *self.activity_ids, *self.task_ids, *self.consent_ids]
        return [str(pk) for pk in ids]


@dataclass(frozen=True)
class Section:
    """One file pair of the export: ``<name>.csv`` and the ``<name>`` key of ``subject.json``."""

    name: str
    description: str
    columns: list[str]
    rows: Callable[[Subject], Iterable[dict[str, Any]]]


_CONTRIBUTED: dict[str, Section] = {}
_discovered: list[bool] = []


def register_section(section: Section) -> None:
    """Another app's part of the export (called from its ``personal_data`` module)."""
    _CONTRIBUTED[section.name] = section


@dataclass(frozen=True)
class SubjectExport:
    content: bytes
    filename: str
    prospect_count: int
    dealer_ids: list[int]


# --- who may ---


def may_export_personal_data(membership: Membership) -> bool:
    """The dealership's part: its dealer administrators (a salesperson or sales manager may not)."""
    return membership.role == Membership.Role.DEALER_ADMIN


def is_data_protection_officer(user: Any) -> bool:
    """The manufacturer's DPO (the data protection role) or a superuser: every dealership's part."""
    if not (user.is_active and user.is_staff):
        return False
    return bool(user.is_superuser or user.groups.filter(name=DATA_PROTECTION).exists())


# --- finding the person ---


def find_subject(*, email: str = "", phone: str = "", dealer_number: str = "") -> list[Prospect]:
    """Every prospect, at any dealership (or the one numbered), whose normalised email or phone matches.

    Runs manufacturer-wide (audited). An empty or unparseable email and phone find nobody.
    """
    wanted = Q(pk__in=[])
    if normalized := normalize_email(email):
        wanted |= Q(email_normalized=normalized)
    if number := normalize_phone(phone):
        wanted |= Q(phone=number) | Q(mobile=number)
    with rls.manufacturer_wide(reason="subject_access:search"):
        prospects = Prospect.objects.filter(wanted).select_related("dealer")
        if dealer_number:
            prospects = prospects.filter(dealer__number=dealer_number)
        return list(prospects.order_by("dealer__number", "created_at")[:MAX_PROSPECTS])


def prospects_named(term: str) -> list[Any]:
    """Ids of the prospects (every dealership) a search term names: an email, a phone number or a name."""
    term = term.strip()
    if not term:
        return []
    with rls.manufacturer_wide(reason="read_audit:search"):
        return _prospects_named(term)


def _prospects_named(term: str) -> list[Any]:
    if "@" in term:
        found = Prospect.objects.filter(email_normalized=normalize_email(term))
    elif (number := normalize_phone(term)) and sum(c.isdigit() for c in term) >= 6:
        found = Prospect.objects.filter(Q(phone=number) | Q(mobile=number))
    else:
        words = [fold(word) for word in term.split() if fold(word)]
        if not words:
            return []
        found = Prospect.objects.all()
        for word in words:
            found = found.filter(search_text__icontains=word)
    return list(found.values_list("pk", flat=True)[:MAX_PROSPECTS])


def _subject(prospects: Sequence[Prospect]) -> Subject:
    prospect_ids = [p.pk for p in prospects]
    dealer_ids = sorted({p.dealer_id for p in prospects})
    mine = Q(dealer_id__in=dealer_ids)
    lead_ids = list(Lead.objects.filter(mine, prospect_id__in=prospect_ids).values_list("pk", flat=True))
    of_person = Q(prospect_id__in=prospect_ids) | Q(lead_id__in=lead_ids)
    return Subject(
        prospect_ids=prospect_ids,
        dealer_ids=dealer_ids,
        lead_ids=lead_ids,
        activity_ids=list(Activity.objects.filter(mine, of_person).values_list("pk", flat=True)),
        task_ids=list(Task.objects.filter(mine, of_person).values_list("pk", flat=True)),
        consent_ids=list(Consent.objects.filter(mine, prospect_id__in=prospect_ids).values_list("pk", flat=True)),
    )


# --- the sections ---


def _model_columns(model: type[Model], *, leave_out: tuple[str, ...] = ()) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.name not in leave_out]


def model_section(
    name: str,
    description: str,
    model: type[Model],
    ids: str,
    *,
    by: str = "pk",
    columns: list[str] | None = None,
    leave_out: tuple[str, ...] = (),
    order_by: tuple[str, ...] = (),
) -> Section:
    """The ``model`` rows whose ``by`` is in the subject's list named ``ids`` (in the subject's dealerships).

    ``columns`` default to every concrete field but ``leave_out``. Other apps' ``personal_data`` modules
    build their sections with it too.
    """
    exported = columns if columns is not None else _model_columns(model, leave_out=leave_out)

    def rows(subject: Subject) -> Iterable[dict[str, Any]]:
        selected = model._default_manager.filter(**{f"{by}__in": getattr(subject, ids)})
        selected = selected.filter(dealer_id__in=subject.dealer_ids)
        if order_by:  # else the model's own ordering (an empty order_by() would drop it)
            selected = selected.order_by(*order_by)
        return selected.values(*exported)

    return Section(name, description, exported, rows)


READ_COLUMNS = ["at", "dealer_id", "user_id", "api_key_id", "action", "object_type", "object_id", "route"]

CRM_SECTIONS = [
    model_section(
        "prospects",
        "The person's records, one per dealership (and any merged into them).",
        Prospect,
        "prospect_ids",
        leave_out=("search_text", "sort_name"),  # derived from the fields it holds
    ),
    model_section("leads", "Purchase interests (leads).", Lead, "lead_ids"),
    model_section(
        "lead_history",
        "Each lead's history: stage changes, assignments, routing, escalations.",
        LeadEvent,
        "lead_ids",
        by="lead_id",
    ),
    model_section("activities", "Calls, emails, meetings, test drives and notes.", Activity, "activity_ids"),
    model_section("tasks", "Follow-ups about the person.", Task, "task_ids"),
    model_section(
        "consents", "The consent ledger: every grant and withdrawal with its evidence.", Consent, "consent_ids"
    ),
    model_section(
        "audit_changes",
        "Who changed the person's records, and when.",
        AuditEvent,
        "object_ids",
        by="object_id",
        columns=["at", "dealer_id", "actor_label", "action", "object_type", "object_id", "data"],
        order_by=("at", "id"),
    ),
    model_section(
        "audit_reads",
        "Who opened, read through the API or exported the person's records, and when.",
        ReadAudit,
        "prospect_ids",
        by="prospect_id",
        columns=READ_COLUMNS,
        order_by=("at", "id"),
    ),
]


def sections() -> list[Section]:
    """crm's sections, then those other apps contribute (discovered once)."""
    if not _discovered:
        autodiscover_modules("personal_data")
        _discovered.append(True)
    return [*CRM_SECTIONS, *_CONTRIBUTED.values()]


# --- the ZIP ---


def _cell(value: Any) -> str:
    """CSV cell text: JSON for structures, ISO times, and no formula a spreadsheet would run."""
    if isinstance(value, dict | list):
        text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)
    return "\ufeff" + buffer.getvalue()  # the BOM: spreadsheets read UTF-8 umlauts right


def _readme(generated_at: str, found: list[Section]) -> str:
    lines = [
        "Personal data export (GDPR Art. 15 and 20)",
        f"Generated: {generated_at}",
        "",
        "subject.json holds every section below; each section is also a CSV file with a header row.",
        "",
    ]
    lines += [f"{section.name}.csv: {section.description}" for section in found]
    return "\n".join(lines) + "\n"


def build_zip(prospects: Sequence[Prospect]) -> bytes:
    """The ZIP of every section about ``prospects`` (the caller has chosen them and set the scope)."""
    subject = _subject(prospects)
    generated_at = timezone.now().isoformat()
    found = sections()
    data: dict[str, Any] = {"generated_at": generated_at, "dealer_ids": subject.dealer_ids}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for section in found:
            rows = [dict(row) for row in section.rows(subject)]
            data[section.name] = rows
            archive.writestr(f"{section.name}.csv", _csv(section.columns, rows))
        archive.writestr("subject.json", json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
        archive.writestr("README.txt", _readme(generated_at, found))
    return buffer.getvalue()


def _filename() -> str:
    return f"personal-data-{timezone.localtime():%Y%m%d-%H%M%S}.zip"


def export_for_dealership(*, request: HttpRequest, membership: Membership, prospect: Prospect) -> SubjectExport:
    """The prospect page's export: this dealership's data about the person, in the dealership's scope."""
    if not may_export_personal_data(membership) or prospect.dealer_id != membership.dealer_id:
        raise PermissionError("only the dealership's administrators export its data about a person")
    content = build_zip([prospect])
    record_read(request, action=ReadAudit.Action.SUBJECT_EXPORT, obj=prospect, data={"scope": "dealership"})
    return SubjectExport(content, _filename(), 1, [prospect.dealer_id])


def export_for_officer(
    *, prospects: Sequence[Prospect], request: HttpRequest | None = None, by: str = "", search: dict[str, str]
) -> SubjectExport:
    """Every dealership's data about the person (the DPO in the admin, or the command), manufacturer-wide.

    ``request`` (the admin) or ``by`` (the command: ``command:export_person``) names who exported,
    for the read audit; ``search`` (email, phone, dealer) is recorded as it was asked, ids only otherwise.
    """
    with rls.manufacturer_wide(reason="subject_access:export", prospects=len(prospects)):
        content = build_zip(prospects)
        details = {
            "scope": "manufacturer",
            "prospects": len(prospects),
            "search": sorted(k for k, v in search.items() if v),
        }
        for prospect in prospects:
            if request is not None:
                record_read(request, action=ReadAudit.Action.SUBJECT_EXPORT, obj=prospect, data=details)
            else:
                write_read_audit(
                    action=ReadAudit.Action.SUBJECT_EXPORT,
                    obj=prospect,
                    route=by,
                    data=details,
                )
    return SubjectExport(content, _filename(), len(prospects), sorted({p.dealer_id for p in prospects}))
