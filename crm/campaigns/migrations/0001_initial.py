"""Campaigns, with row-level security like crm/0004: a session writes its own dealership's rows only
(the manufacturer's, ``dealer_id`` NULL, manufacturer-wide only) and reads its own and the manufacturer's."""

import django.contrib.postgres.fields
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import dealers.ids
from dealers.rls_sql import OWN_ROWS, disable, enable


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("crm", "0012_model_catalogue"),
        ("dealers", "0006_prospects_erase_scope"),
    ]

    operations = [
        migrations.CreateModel(
            name="Campaign",
            fields=[
                ("id", models.UUIDField(default=dealers.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=200, verbose_name="name")),
                (
                    "code",
                    models.CharField(
                        help_text="The code leads carry (intake and API field campaign); it cannot be changed later.",
                        max_length=40,
                        verbose_name="code",
                    ),
                ),
                ("offer", models.TextField(blank=True, verbose_name="offer")),
                ("starts_on", models.DateField(verbose_name="starts")),
                ("ends_on", models.DateField(verbose_name="ends")),
                (
                    "channel",
                    models.CharField(
                        choices=[("email", "Email"), ("phone", "Phone"), ("letter", "Letter"), ("sms", "SMS")],
                        max_length=10,
                        verbose_name="channel",
                    ),
                ),
                (
                    "target_stages",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(
                            choices=[
                                ("new", "New"),
                                ("contacted", "Contacted"),
                                ("appointment", "Appointment"),
                                ("test_drive", "Test drive"),
                                ("offer", "Offer"),
                                ("won", "Won"),
                                ("lost", "Lost"),
                            ],
                            max_length=12,
                        ),
                        blank=True,
                        default=list,
                        size=None,
                        verbose_name="lead stages",
                    ),
                ),
                (
                    "target_sources",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(
                            choices=[
                                ("website", "Website"),
                                ("configurator", "Configurator"),
                                ("test_drive_form", "Test-drive form"),
                                ("call_centre", "Call centre"),
                                ("event", "Event"),
                                ("portal", "Portal"),
                                ("showroom", "Showroom"),
                                ("phone", "Phone"),
                                ("dms", "Dealer system"),
                                ("other", "Other"),
                            ],
                            max_length=16,
                        ),
                        blank=True,
                        default=list,
                        size=None,
                        verbose_name="lead sources",
                    ),
                ),
                ("target_model_name", models.CharField(blank=True, max_length=100, verbose_name="model of interest")),
                (
                    "target_postcode_prefix",
                    models.CharField(blank=True, max_length=10, verbose_name="postcode starts with"),
                ),
                (
                    "target_last_activity_before",
                    models.DateField(
                        blank=True,
                        help_text="Only prospects with no activity on or after this day.",
                        null=True,
                        verbose_name="last activity before",
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="created"),
                ),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated")),
                (
                    "dealer",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty: the manufacturer's campaign, for every dealership.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="dealers.dealer",
                        verbose_name="dealership",
                    ),
                ),
                (
                    "vehicle_model",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="crm.vehiclemodel",
                        verbose_name="model",
                    ),
                ),
            ],
            options={
                "verbose_name": "campaign",
                "verbose_name_plural": "campaigns",
                "ordering": ["-starts_on", "name"],
                "indexes": [models.Index(fields=["dealer", "-starts_on"], name="campaign_dealer_start")],
                "constraints": [
                    models.UniqueConstraint(fields=("dealer", "code"), name="campaign_code_per_dealer"),
                    models.UniqueConstraint(
                        condition=models.Q(("dealer__isnull", True)), fields=("code",), name="campaign_code_network"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("ends_on__gte", models.F("starts_on"))), name="campaign_period_order"
                    ),
                ],
            },
        ),
        # The manufacturer's campaigns (no dealership) are read by every dealership, written by none.
        migrations.RunSQL(
            enable("campaigns_campaign", OWN_ROWS)
            + " CREATE POLICY network_campaigns ON campaigns_campaign FOR SELECT USING (dealer_id IS NULL);",
            disable("campaigns_campaign", "network_campaigns"),
        ),
    ]
