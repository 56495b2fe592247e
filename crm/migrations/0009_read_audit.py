"""The read audit (issue 13, item 5): a narrow, append-only table of who read whose data.

Row-level security as on every dealer table (crm/0004): a dealership's session writes and sees only its
own rows; the admin reads them manufacturer-wide. On top, a trigger refuses UPDATE, DELETE and
TRUNCATE to every role that is not (a member of) the table's owner, so the application role cannot
rewrite the audit whatever it was granted. ``crm_readaudit_purge(before)`` is the one way to delete
old rows (retention): ``SECURITY DEFINER``, run by the owner, not executable by the application role
unless the owner grants it (docs/subject-access-and-read-audit.md).
"""

import django.contrib.postgres.indexes
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"
ENABLE_RLS = (
    "ALTER TABLE crm_readaudit ENABLE ROW LEVEL SECURITY; ALTER TABLE crm_readaudit FORCE ROW LEVEL SECURITY; "
    f"CREATE POLICY dealer_isolation ON crm_readaudit USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS});"
)
DISABLE_RLS = (
    "DROP POLICY IF EXISTS dealer_isolation ON crm_readaudit; "
    "ALTER TABLE crm_readaudit NO FORCE ROW LEVEL SECURITY; ALTER TABLE crm_readaudit DISABLE ROW LEVEL SECURITY;"
)

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION crm_readaudit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RAISE EXCEPTION 'the read audit is append-only: % refused for role %', TG_OP, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN coalesce(NEW, OLD);
END $$;
CREATE TRIGGER readaudit_append_only BEFORE UPDATE OR DELETE ON crm_readaudit
    FOR EACH ROW EXECUTE FUNCTION crm_readaudit_append_only();
CREATE TRIGGER readaudit_no_truncate BEFORE TRUNCATE ON crm_readaudit
    FOR EACH STATEMENT EXECUTE FUNCTION crm_readaudit_append_only();

CREATE OR REPLACE FUNCTION crm_readaudit_purge(before timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    purged bigint;
BEGIN
    PERFORM set_config('app.scope', 'manufacturer', true);
    DELETE FROM crm_readaudit WHERE at < before;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END $$;
REVOKE ALL ON FUNCTION crm_readaudit_purge(timestamptz) FROM PUBLIC;
"""
DROP_APPEND_ONLY = """
DROP FUNCTION IF EXISTS crm_readaudit_purge(timestamptz);
DROP TRIGGER IF EXISTS readaudit_no_truncate ON crm_readaudit;
DROP TRIGGER IF EXISTS readaudit_append_only ON crm_readaudit;
DROP FUNCTION IF EXISTS crm_readaudit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0008_retention_rules"),
        ("dealers", "0005_invitation_row_level_security"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ReadAudit",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="time")),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("view", "Page opened"),
                            ("api_read", "Read through the API"),
                            ("admin_view", "Opened in the admin"),
                            ("export", "List exported"),
                            ("subject_export", "Personal data exported"),
                        ],
                        max_length=16,
                        verbose_name="action",
                    ),
                ),
                ("object_type", models.CharField(blank=True, max_length=40, verbose_name="object type")),
                ("object_id", models.CharField(blank=True, max_length=64, verbose_name="object id")),
                ("prospect_id", models.UUIDField(blank=True, null=True, verbose_name="prospect id")),
                ("ip", models.GenericIPAddressField(blank=True, null=True, verbose_name="address")),
                ("route", models.CharField(blank=True, max_length=100, verbose_name="route")),
                ("data", models.JSONField(blank=True, default=dict, verbose_name="details")),
                (
                    "api_key",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="dealers.apikey",
                        verbose_name="API key",
                    ),
                ),
                (
                    "dealer",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="dealers.dealer",
                        verbose_name="dealership",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "read audit entry",
                "verbose_name_plural": "read audit",
                "ordering": ["-at", "-id"],
                "indexes": [
                    django.contrib.postgres.indexes.BrinIndex(fields=["at"], name="readaudit_at_brin"),
                    models.Index(fields=["prospect_id", "at"], name="readaudit_prospect"),
                ],
            },
        ),
        migrations.RunSQL(ENABLE_RLS, DISABLE_RLS),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
