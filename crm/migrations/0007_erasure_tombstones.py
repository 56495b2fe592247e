"""Erasure everywhere (issue 13, item 1): tombstones of erased people, the flag on a prospect that comes back,
and the permission to erase.

Tombstones are per dealership and under row-level security like the prospects they replace (crm/0004):
a person erased at one dealership may be a prospect at another, which must not learn of it.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"
ENABLE_RLS = (
    "ALTER TABLE crm_erasuretombstone ENABLE ROW LEVEL SECURITY; "
    "ALTER TABLE crm_erasuretombstone FORCE ROW LEVEL SECURITY; "
    f"CREATE POLICY dealer_isolation ON crm_erasuretombstone USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS});"
)
DISABLE_RLS = (
    "DROP POLICY IF EXISTS dealer_isolation ON crm_erasuretombstone; "
    "ALTER TABLE crm_erasuretombstone NO FORCE ROW LEVEL SECURITY; "
    "ALTER TABLE crm_erasuretombstone DISABLE ROW LEVEL SECURITY;"
)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_operational_counter"),
        ("dealers", "0005_invitation_row_level_security"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="prospect",
            options={
                "ordering": ["last_name", "first_name", "id"],
                "permissions": [("erase_prospect", "Can erase a prospect's personal data (right to erasure)")],
                "verbose_name": "prospect",
                "verbose_name_plural": "prospects",
            },
        ),
        migrations.AddField(
            model_name="prospect",
            name="previously_erased_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="The person asked to be erased on this date; their contact data came in again since.",
                null=True,
                verbose_name="erased before",
            ),
        ),
        migrations.CreateModel(
            name="ErasureTombstone",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("prospect_id", models.UUIDField(verbose_name="erased prospect")),
                (
                    "kind",
                    models.CharField(
                        choices=[("email", "Email"), ("phone", "Phone")], max_length=8, verbose_name="kind"
                    ),
                ),
                ("digest", models.CharField(max_length=64, verbose_name="keyed hash")),
                ("erased_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="erased")),
                (
                    "dealer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="dealers.dealer"
                    ),
                ),
            ],
            options={
                "verbose_name": "erasure tombstone",
                "verbose_name_plural": "erasure tombstones",
                "ordering": ["-erased_at", "-id"],
                "indexes": [models.Index(fields=["dealer", "digest"], name="tombstone_digest")],
            },
        ),
        migrations.RunSQL(ENABLE_RLS, DISABLE_RLS),
    ]
