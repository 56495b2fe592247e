"""The change feed: every change to the caller's dealership, in commit order, never skipping a late commit.

Each change-log row records its writing transaction's id (``txid``). A row becomes readable
only once every transaction that could still commit a smaller ``txid`` has finished: the
reader takes rows with ``txid < pg_snapshot_xmin(pg_current_snapshot())`` (the oldest
transaction still running), ordered by ``(txid, id)``. A transaction that started earlier
but commits later holds the horizon back until it commits, so its rows are never passed over.

The opaque cursor carries ``(epoch, txid, id)`` of the last row delivered. A cursor of
another epoch (``crm.models.FeedEpoch``, bumped after a restore or a lost history) or one
whose row was pruned answers 410 Gone: the client resynchronises from the lists.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.db.models import BigIntegerField, F, Func
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm import replica
from crm.api import representations as rep
from crm.api.base import ApiView
from crm.api.errors import Gone
from crm.api.pagination import parse_limit
from crm.api.schema import problems
from crm.api.serializers import ChangePageSerializer
from crm.models import Change, FeedEpoch
from dealers.scoping import Viewer

DEFAULT_LIMIT = 100
_VERSION = "c1"
MAX_CURSOR_LENGTH = 128


class SnapshotHorizon(Func):
    """The oldest transaction id still running: every row below it is committed (or never will be)."""

    template = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"
    output_field = BigIntegerField()


def encode_feed_cursor(epoch: int, txid: int, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_VERSION}:{epoch}:{txid}:{row_id}".encode()).decode().rstrip("=")


def decode_feed_cursor(cursor: str) -> tuple[int, int, int]:
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:  # ours are under 60 characters
            raise ValueError("cursor too long")
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")).decode("ascii")
        version, epoch, txid, row_id = raw.split(":")
        if version != _VERSION:
            raise ValueError(version)
        return int(epoch), int(txid), int(row_id)
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise ValidationError({"cursor": [_("Not a cursor of the change feed.")]}) from error


def current_epoch(using: str = replica.PRIMARY) -> int:
    return FeedEpoch.objects.using(using).filter(pk=1).values_list("epoch", flat=True).first() or 1


def read_changes(
    *, viewer: Viewer, after: tuple[int, int], limit: int, using: str = replica.PRIMARY
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows after ``(txid, id)``, below the horizon of the server read, in commit order."""
    txid, row_id = after
    return list(
        Change.objects.visible_to(viewer)
        .using(using)
        .filter(TupleGreaterThan(Tuple(F("txid"), F("id")), (txid, row_id)))
        .filter(txid__lt=SnapshotHorizon())
        .order_by("txid", "id")
        .values("txid", "id", *rep.CHANGE.columns)[:limit]
    )


class ChangeFeedView(ApiView):
    resource = "changes"
    query_params = ("cursor", "limit")

    @extend_schema(
        operation_id="list_changes",
        summary="The change feed: what changed in your dealership, in commit order",
        description="Start without a cursor; then always pass the `next_cursor` of the last answer (it is "
        "given even when `items` is empty). While `has_more` is true call again at once, else poll after a "
        "few seconds. Each change is delivered at least once: deduplicate by `id`, apply by `version`. "
        "410 Gone: the history was restored or pruned past your cursor; resynchronise from the lists "
        "(`updated_since`) and start again without a cursor.",
        tags=["changes"],
        parameters=[
            OpenApiParameter("cursor", str, description="next_cursor of the previous answer; leave out to start."),
            OpenApiParameter("limit", int, description="Changes per answer, 1 to 500 (default 100)."),
        ],
        responses={200: ChangePageSerializer, **problems(400, 401, 403, 410, 429, 503)},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "items": [
                        {
                            "id": "0190f1d2-8c3b-7a51-9e2a-3f4b5c6d7e8f",
                            "type": "lead.closed",
                            "object_type": "lead",
                            "object_id": "0190f1d2-1111-7a51-9e2a-3f4b5c6d7e8f",
                            "version": 4,
                            "occurred_at": "2024-05-02T08:30:00Z",
                            "data": {"id": "0190f1d2-1111-7a51-9e2a-3f4b5c6d7e8f", "stage": "won", "version": 4},
                        }
                    ],
                    "next_cursor": "YzE6MTo3NDI6MTIz",
                    "has_more": False,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        limit = parse_limit(request, default=DEFAULT_LIMIT)
        cursor = request.query_params.get("cursor")
        position = decode_feed_cursor(cursor) if cursor else None
        return Response(replica.read_with_fallback(lambda using: self._page(position, limit, using)))

    def _page(self, position: tuple[int, int, int] | None, limit: int, using: str) -> dict[str, Any]:
        """One answer read from one server, epoch, cursor check and rows alike.

        A standby's snapshot horizon is the primary's at the point it has replayed to, so below it no
        transaction can still commit there either: the no-gap rule holds on the replica as it does on
        the primary. A cursor the replica has not replayed yet (handed out by the primary, or a newer
        epoch) is the primary's to judge: otherwise it would read as pruned (410) or rewind the client.
        """
        epoch = current_epoch(using)
        txid, row_id = 0, 0
        if position is not None:
            cursor_epoch, txid, row_id = position
            if cursor_epoch != epoch:
                if using != replica.PRIMARY:
                    raise replica.ReplicaBehind
                raise Gone(_("The change feed was reset (restore or lost history): resynchronise, then start anew."))
            if row_id and not Change.objects.visible_to(self.viewer).using(using).filter(pk=row_id, txid=txid).exists():
                if using != replica.PRIMARY:
                    raise replica.ReplicaBehind
                raise Gone(_("Your cursor points before the retained history: resynchronise, then start anew."))
        rows = read_changes(viewer=self.viewer, after=(txid, row_id), limit=limit + 1, using=using)
        has_more = len(rows) > limit
        rows = rows[:limit]
        if rows:
            txid, row_id = rows[-1]["txid"], rows[-1]["id"]
        for row in rows:
            del row["txid"]  # the position is the cursor's business; "id" becomes the event id
        return {
            "items": rep.CHANGE.render_many(rows),
            "next_cursor": encode_feed_cursor(epoch, txid, row_id),
            "has_more": has_more,
        }
