"""The read audit: who saw which person's data, when, from where and through which route (issue 13, item 5).

One narrow row per read of one record (a prospect or lead page, an API read of one prospect, an admin
change view) and one row per export (with the row count and filters, never one row per exported
row); list pages are not audited. Rows hold ids, never names or addresses: the DPO's search resolves
a person to prospect ids when it runs (crm.admin_data_protection).

Why not ``dealers.AuditEvent``: reads outnumber changes by orders of magnitude. A table of their own
keeps the change audit small and lets this one be append-only and indexed by time with BRIN (rows
arrive in time order, so a few pages of index cover years). Each read is one INSERT in the request's
own transaction; there is no foreign key to check, so a user, key or dealership deleted later
leaves the row as it was, which an append-only table needs (Django's SET_NULL would be an UPDATE).

Append-only for the application role: a trigger (migration ``crm/0009_read_audit``) refuses UPDATE,
DELETE and TRUNCATE by anyone but the table's owner, whatever grants a role holds. Retention deletes
old rows only through ``crm_readaudit_purge(before)``, a ``SECURITY DEFINER`` function the owner runs
(``EXECUTE`` is not granted to the application role; docs/subject-access-and-read-audit.md).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, TypedDict, Unpack

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import DatabaseError, models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealers.fields import optional_link
from dealers.login_throttle import client_ip
from dealers.models import Dealer
from dealers.scoping import DealerScopedQuerySet

logger = logging.getLogger(__name__)

READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction


def _unchecked_reference(to: Any, verbose_name: Any) -> models.ForeignKey[Any, Any]:
    """A nullable reference with neither a database constraint nor an index (see the module for why)."""
    return optional_link(to, verbose_name, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False)


class ReadAudit(models.Model):
    """One read of personal data: who (user or API key), what (model and id), when, from where, which route."""

    class Action(models.TextChoices):
        VIEW = "view", _("Page opened")
        API_READ = "api_read", _("Read through the API")
        ADMIN_VIEW = "admin_view", _("Opened in the admin")
        EXPORT = "export", _("List exported")
        SUBJECT_EXPORT = "subject_export", _("Personal data exported")

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(_("time"), default=timezone.now)
    # No foreign keys (see the module): deleting a user, key or dealership must not rewrite audit rows;
    # no index either, as every index is paid for on each read: searches go by time and by person.
    dealer = _unchecked_reference(Dealer, _("dealership"))
    user = _unchecked_reference(settings.AUTH_USER_MODEL, _("user"))
    api_key = _unchecked_reference("dealers.ApiKey", _("API key"))
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=40, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    # The person the read was about (a lead's prospect too), for "who saw this person".
    prospect_id = models.UUIDField(_("prospect id"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    route = models.CharField(_("route"), max_length=100, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        app_label = "crm"
        verbose_name = _("read audit entry")
        verbose_name_plural = _("read audit")
        ordering: ClassVar = ["-at", "-id"]
        indexes: ClassVar = [
            BrinIndex(fields=["at"], name="readaudit_at_brin"),
            models.Index(fields=["prospect_id", "at"], name="readaudit_prospect"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type} {self.object_id}"


def _prospect_id_of(obj: Any) -> Any:
    if obj is None:
        return None
    if obj._meta.label_lower == "crm.prospect":
        return obj.pk
    return getattr(obj, "prospect_id", None)


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        return str(match.view_name)[:100]
    return request.path[:100]


def _who(request: HttpRequest) -> dict[str, Any]:
    """The user, or the API key of a dealer system (DRF's ``request.user`` is then an ``ApiClient``)."""
    user = getattr(request, "user", None)
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return {"api_key_id": api_key.pk, "user_id": None}
    return {"api_key_id": None, "user_id": getattr(user, "pk", None)}


class ReadTarget(TypedDict, total=False):
    """What was read, as :func:`write_read_audit` takes it; :func:`record_read` passes it on unchanged."""

    obj: Any
    object_type: str
    object_id: Any
    dealer_id: int | None
    prospect_id: Any
    data: dict[str, Any] | None


def record_read(request: HttpRequest, *, action: str, **target: Unpack[ReadTarget]) -> ReadAudit:
    """Write one read audit row for ``request`` (one INSERT, in the request's transaction if one is open).

    ``obj`` names what was read (its model and id, and its person), or ``object_type`` and ``object_id``
    do when only the id is at hand; an export passes no object but its count and filters in ``data``.
    """
    return write_read_audit(
        **_who(request), action=action, ip=client_ip(request) or None, route=_route(request), **target
    )


def write_read_audit(
    *,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = None,
    dealer_id: int | None = None,
    prospect_id: Any = None,
    user_id: int | None = None,
    api_key_id: int | None = None,
    ip: str | None = None,
    route: str = "",
    data: dict[str, Any] | None = None,
) -> ReadAudit:
    """One read audit row; :func:`record_read` fills who, address and route from a request (commands pass ``route``).

    On a read-only database (a standby serving reads during a failover, docs/high-availability.md) the
    row cannot be stored; the read still succeeds and the row goes to the log instead (ids only, no
    personal data), so reads stay available and none goes unrecorded.
    """
    row = ReadAudit(
        user_id=user_id,
        api_key_id=api_key_id,
        dealer_id=dealer_id if dealer_id is not None else getattr(obj, "dealer_id", None),
        action=action,
        object_type=obj._meta.label_lower if obj is not None else object_type,
        object_id=str(obj.pk if obj is not None else (object_id or "")),
        prospect_id=prospect_id if prospect_id is not None else _prospect_id_of(obj),
        ip=ip,
        route=route[:100],
        data=data or {},
    )
    try:
        with transaction.atomic():  # a savepoint: a refused insert leaves the request's transaction usable
            row.save(force_insert=True)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != READ_ONLY_SQLSTATE:
            raise
        logger.warning(
            "read_audit_logged_only",
            extra={
                "reason": "database is read-only",
                "action": row.action,
                "object_type": row.object_type,
                "object_id": row.object_id,
                "dealer_id": row.dealer_id,
                "prospect_id": str(row.prospect_id or ""),
                "user_id": row.user_id,
                "api_key_id": row.api_key_id,
                "route": row.route,
            },
        )
    return row


class AuditedChangeView:
    """Admin mixin: opening a record's change (or read-only) page writes a read audit row.

    Only GET is audited: a POST saves through a service, which writes the change audit.
    """

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> Any:
        response = super().change_view(request, object_id, *args, **kwargs)  # type: ignore[misc]
        if request.method == "GET" and response.status_code == 200:
            obj = (getattr(response, "context_data", None) or {}).get("original")
            if obj is not None:
                record_read(request, action=ReadAudit.Action.ADMIN_VIEW, obj=obj)
        return response
