"""Request validation (shape only: the services decide) and the documented response shapes.

Responses are rendered by ``crm.api.representations`` from ``.values()`` rows; the
serializers here describe the same shape for the OpenAPI schema. Input rules:

- unknown fields are a 400 naming them (a typo never silently loses data);
- read-only fields of the representation (``id``, ``version``, ...) may be sent back and are ignored;
- timestamps are ISO 8601; without an offset they are taken as UTC; responses use UTC (``Z``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from crm import fieldspecs
from crm.countries import country_choices, country_code
from crm.models import Consent, Lead
from crm.normalize import dialling_region
from dealers.models import ApiKey


class UTCDateTimeField(serializers.DateTimeField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(*args, **kwargs)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class StrictSerializerMixin:
    """Rejects unknown fields; tolerates (and ignores) read-only ones.

    National phone numbers are read in the country of the API key's dealership (``Dealer.country``).
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = set(self.fields)  # type: ignore[attr-defined]
            unknown = [key for key in data if key not in known]
            if unknown:
                raise serializers.ValidationError({key: [_("Unknown field.")] for key in unknown})
        with dialling_region(_key_country(getattr(self, "context", {}))):
            return super().to_internal_value(data)  # type: ignore[misc]


def _key_country(context: Mapping[str, Any]) -> str | None:
    """The country of the requesting API key's dealership (loaded with the key: no query), or None."""
    dealer = getattr(getattr(context.get("request"), "auth", None), "dealer", None)
    return getattr(dealer, "country", None)


class StrictModelSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    serializer_field_mapping: ClassVar = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    pass


STAFF_EMAIL_HELP = _("Email address of an active staff member of the dealership; null for nobody.")
# The dealer system's id is checked for uniqueness by the service (one 400 naming it, also under races).
EXTERNAL_ID_UNCHECKED: dict[str, Any] = {"external_id": {"validators": []}}
# Room for a number as people write it ("+49 (0) 89 / 123 456-78"); the service checks it and stores E.164.
PHONE_INPUT: dict[str, Any] = {
    "max_length": 40,
    "validators": [fieldspecs.dialable_phone],  # the services accept odd numbers from intake; a dealer system's not
    "help_text": _(
        "Any common format (a national number is read in the country of the key's dealership, usually Germany); "
        "answers give it in E.164."
    ),
}


class ResourceMeta:
    """``Meta`` of a resource's serializer: its fields and the read-only ones, from crm.fieldspecs."""

    def __init_subclass__(cls, resource: fieldspecs.Resource | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if resource is None:  # a variant of a resource's Meta: inherits it
            return
        cls.model = resource.model  # type: ignore[attr-defined]
        cls.fields = list(resource.api_fields)  # type: ignore[attr-defined]
        cls.read_only_fields = list(resource.api_read_only)  # type: ignore[attr-defined]


def staff_email(**kwargs: Any) -> serializers.EmailField:
    """A staff member, named by the email address the answers show."""
    kwargs.setdefault("allow_null", True)
    if not kwargs.get("read_only"):
        kwargs.setdefault("help_text", STAFF_EMAIL_HELP)
    return serializers.EmailField(**kwargs)


class CountryField(serializers.ChoiceField):
    """An ISO 3166 alpha-2 code; taken in any case, as an alpha-3 or numeric code, or named in German or English."""

    default_error_messages: ClassVar = {
        "invalid_choice": _('"{input}" is not a country: use a two-letter ISO 3166 code such as DE.')
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", _("ISO 3166 alpha-2 code, e.g. DE (also de, DEU or Deutschland)."))
        super().__init__(choices=[code for code, _name in country_choices()], **kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = country_code(data) if isinstance(data, str) else ""
        if not code:
            self.fail("invalid_choice", input=data)
        return code


class ProspectSerializer(StrictModelSerializer):
    owner = staff_email(required=False)
    country = CountryField(required=False)
    merged_into = serializers.UUIDField(
        read_only=True, allow_null=True, help_text=_("Set when merged into another prospect (a tombstone).")
    )
    erased = serializers.BooleanField(read_only=True, help_text=_("Anonymised on request (GDPR)."))

    class Meta(ResourceMeta, resource=fieldspecs.PROSPECT):
        extra_kwargs: ClassVar[dict[str, Any]] = {**EXTERNAL_ID_UNCHECKED, "phone": PHONE_INPUT, "mobile": PHONE_INPUT}


class LeadSerializer(StrictModelSerializer):
    prospect = serializers.UUIDField(help_text=_("The prospect's id."))
    owner = staff_email(required=False)
    lost_reason = serializers.CharField(
        read_only=True, allow_null=True, help_text=_("Code of the lost reason (GET /api/v1/lost-reasons/).")
    )

    class Meta(ResourceMeta, resource=fieldspecs.LEAD):
        extra_kwargs: ClassVar[dict[str, Any]] = {
            **EXTERNAL_ID_UNCHECKED,
            "stage": {"help_text": _("An open stage; change it later with POST /api/v1/leads/{id}/stage/.")},
        }


class LeadUpdateSerializer(LeadSerializer):
    """Stage and owner change through their own endpoints (stage/, assign/); the prospect never changes."""

    prospect = serializers.UUIDField(read_only=True)
    owner = staff_email(read_only=True)

    class Meta(LeadSerializer.Meta):
        read_only_fields: ClassVar = [*LeadSerializer.Meta.read_only_fields, *fieldspecs.LEAD.set_on_create_only]


class LeadStageSerializer(StrictSerializer):
    stage = serializers.ChoiceField(choices=Lead.Stage.choices)
    lost_reason = serializers.SlugField(
        required=False, allow_null=True, help_text=_("Required for 'lost': a code from GET /api/v1/lost-reasons/.")
    )
    note = serializers.CharField(
        required=False, allow_blank=True, help_text=_("Required for 'won': what was sold (order or contract number).")
    )


class ProspectEraseSerializer(StrictSerializer):
    """No body, or an empty object: erasure takes no options, and any field sent is refused by name."""


class LeadAssignSerializer(StrictSerializer):
    owner = staff_email()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ActivitySerializer(StrictModelSerializer):
    prospect = serializers.UUIDField(help_text=_("The prospect's id."))
    lead = serializers.UUIDField(required=False, allow_null=True, help_text=_("The lead's id, if any."))
    author = serializers.CharField(read_only=True, help_text=_("Who recorded it (a person or api:<key prefix>)."))

    class Meta(ResourceMeta, resource=fieldspecs.ACTIVITY):
        extra_kwargs: ClassVar[dict[str, Any]] = EXTERNAL_ID_UNCHECKED


class ActivityUpdateSerializer(ActivitySerializer):
    prospect = serializers.UUIDField(read_only=True)
    lead = serializers.UUIDField(read_only=True, allow_null=True)


class TaskSerializer(StrictModelSerializer):
    prospect = serializers.UUIDField(required=False, allow_null=True, help_text=_("The prospect's id, if any."))
    lead = serializers.UUIDField(required=False, allow_null=True, help_text=_("The lead's id, if any."))
    assignee = staff_email(required=False)
    done = serializers.BooleanField(required=False, help_text=_("Set true to complete the task, false to reopen it."))

    class Meta(ResourceMeta, resource=fieldspecs.TASK):
        extra_kwargs: ClassVar[dict[str, Any]] = EXTERNAL_ID_UNCHECKED


class TaskUpdateSerializer(TaskSerializer):
    prospect = serializers.UUIDField(read_only=True, allow_null=True)
    lead = serializers.UUIDField(read_only=True, allow_null=True)


@extend_schema_serializer(component_name="ConsentEntry")
class ConsentSerializer(StrictModelSerializer):
    prospect = serializers.UUIDField(help_text=_("The prospect's id."))
    evidence = serializers.DictField(
        required=False, help_text=_("Double opt-in evidence, e.g. IP address and confirmation link.")
    )

    class Meta:
        model = Consent
        fields: ClassVar = [
            "id",
            "prospect",
            "purpose",
            "status",
            "channel",
            "source",
            "text_version",
            "at",
            "double_opt_in_at",
            "evidence",
            "recorded_by",
        ]
        read_only_fields: ClassVar = ["id", "recorded_by"]
        extra_kwargs: ClassVar[dict[str, Any]] = {"at": {"required": False}}

    def validate_evidence(self, value: dict[str, Any]) -> dict[str, Any]:
        if _has_nul(value):
            raise serializers.ValidationError(_("Text must not contain NUL characters."))
        return value


class ChangeSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text=_("Stable event id: deduplicate by it."))
    type = serializers.CharField(help_text=_("e.g. prospect.created, lead.updated, lead.closed, prospect.merged."))
    object_type = serializers.CharField(help_text=_("prospect, lead, activity or task."))
    object_id = serializers.UUIDField()
    version = serializers.IntegerField(help_text=_("The object's version after this change."))
    occurred_at = UTCDateTimeField()
    data = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.data
        help_text=_("The object as of this change (as in webhooks).")
    )


class ChangePageSerializer(serializers.Serializer):
    items = ChangeSerializer(many=True)
    next_cursor = serializers.CharField(help_text=_("Pass as ?cursor= on the next call (also when empty)."))
    has_more = serializers.BooleanField(help_text=_("More changes are ready now: call again at once."))


class DealerRefSerializer(serializers.Serializer):
    number = serializers.CharField()
    name = serializers.CharField()


class KeyInfoSerializer(serializers.Serializer):
    prefix = serializers.CharField()
    name = serializers.CharField()
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer):
    dealer = DealerRefSerializer(allow_null=True, help_text=_("Null for a manufacturer key."))
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKey.Scope.choices))
    key = KeyInfoSerializer()


class LostReasonSerializer(serializers.Serializer):
    code = serializers.SlugField()
    label_de = serializers.CharField()
    label_en = serializers.CharField()
    is_active = serializers.BooleanField()


class LostReasonListSerializer(serializers.Serializer):
    items = LostReasonSerializer(many=True)


class ProblemSerializer(serializers.Serializer):
    type = serializers.URLField(help_text=_("A URI naming the kind of problem."))
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_("Messages per field; non_field_errors for the request as a whole."),
    )


_page_serializers: dict[str, type[serializers.Serializer]] = {}


def page_of(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """A named page serializer: ``{"items": [...], "next": url, "next_cursor": str, "has_more": bool}``."""
    if name not in _page_serializers:
        _page_serializers[name] = type(
            name,
            (serializers.Serializer,),
            {
                "items": item(many=True),
                "next": serializers.URLField(allow_null=True, help_text=_("The next page, or null.")),
                "next_cursor": serializers.CharField(allow_null=True, help_text=_("?cursor= of the next page.")),
                "has_more": serializers.BooleanField(),
                "__module__": __name__,
            },
        )
    return _page_serializers[name]
