"""The lead desk's queue of unrouted intake leads (issue 11), and the routing methods by city and area code.

Row-level security as on sync's other dealer tables (sync/0005): a waiting lead has no dealership, so
only the manufacturer-wide scope sees it; once the lead desk assigns it, the dealership sees the row of
its own lead, as it sees the intake document.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import dealers.ids

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"
ENABLE_RLS = (
    "ALTER TABLE sync_unroutedlead ENABLE ROW LEVEL SECURITY; ALTER TABLE sync_unroutedlead FORCE ROW LEVEL SECURITY; "
    f"CREATE POLICY dealer_isolation ON sync_unroutedlead USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS});"
)
DISABLE_RLS = (
    "DROP POLICY IF EXISTS dealer_isolation ON sync_unroutedlead; "
    "ALTER TABLE sync_unroutedlead NO FORCE ROW LEVEL SECURITY; ALTER TABLE sync_unroutedlead DISABLE ROW LEVEL SECURITY;"
)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_lead_contact_channel"),
        ("dealers", "0005_invitation_row_level_security"),
        ("sync", "0008_routing_reason_codes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="intakedocument",
            name="status",
            field=models.CharField(
                choices=[
                    ("accepted", "Accepted"),
                    ("rejected", "Rejected"),
                    ("failed", "Failed (internal error)"),
                    ("unrouted", "Accepted, waiting for the lead desk"),
                ],
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.AlterField(
            model_name="leadrouting",
            name="method",
            field=models.CharField(
                choices=[
                    ("chosen", "Dealer chosen by the customer"),
                    ("territory", "Postcode territory"),
                    ("fallback", "Nearest active dealer"),
                    ("city", "City in a territory"),
                    ("area_code", "Phone area code in a territory"),
                    ("lead_desk", "Assigned by the lead desk"),
                ],
                max_length=10,
                verbose_name="routed by",
            ),
        ),
        migrations.CreateModel(
            name="UnroutedLead",
            fields=[
                ("id", models.UUIDField(default=dealers.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ("received_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="received")),
                ("source", models.CharField(blank=True, max_length=40, verbose_name="channel")),
                ("customer_name", models.CharField(blank=True, max_length=300, verbose_name="customer")),
                ("city", models.CharField(blank=True, max_length=100, verbose_name="city")),
                (
                    "payload",
                    models.JSONField(
                        help_text="The validated intake document, read again on assigning.",
                        verbose_name="intake payload",
                    ),
                ),
                (
                    "routing",
                    models.JSONField(
                        default=dict,
                        help_text="What the routing steps saw, and their suggestion.",
                        verbose_name="routing steps",
                    ),
                ),
                ("due_at", models.DateTimeField(verbose_name="lead desk deadline")),
                ("desk_alerted_at", models.DateTimeField(blank=True, null=True, verbose_name="lead desk alerted")),
                ("assigned_at", models.DateTimeField(blank=True, null=True, verbose_name="assigned")),
                (
                    "assigned_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="assigned by",
                    ),
                ),
                (
                    "dealer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="dealers.dealer",
                        verbose_name="dealership",
                    ),
                ),
                (
                    "document",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="unrouted",
                        to="sync.intakedocument",
                        verbose_name="intake document",
                    ),
                ),
                (
                    "lead",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="crm.lead",
                        verbose_name="lead",
                    ),
                ),
            ],
            options={
                "verbose_name": "unrouted lead",
                "verbose_name_plural": "unrouted leads",
                "ordering": ["received_at"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("assigned_at__isnull", True)),
                        fields=["due_at"],
                        name="unrouted_lead_waiting",
                    )
                ],
            },
        ),
        migrations.RunSQL(ENABLE_RLS, DISABLE_RLS),
    ]
