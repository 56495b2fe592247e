"""File imports are queued: status queued, progress (rows processed), the uploader, a lease for the worker."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dealers", "0003_idempotency_body_text"),
        ("sync", "0005_row_level_security"),
    ]

    operations = [
        migrations.AddField(
            model_name="importrun",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="importrun",
            name="lease_token",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="importrun",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="queued"),
        ),
        migrations.AddField(
            model_name="importrun",
            name="rows_processed",
            field=models.PositiveIntegerField(
                db_default=0,
                default=0,
                help_text="Rows of the file already applied or reported.",
                verbose_name="rows processed",
            ),
        ),
        migrations.AddField(
            model_name="importrun",
            name="uploaded_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The membership the upload is imported for; the import stops if it ends before.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="dealers.membership",
                verbose_name="uploaded by",
            ),
        ),
        migrations.AlterField(
            model_name="importrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("partial", "Done with row errors"),
                    ("failed", "File rejected"),
                ],
                default="running",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.AddIndex(
            model_name="importrun",
            index=models.Index(
                condition=models.Q(("status__in", ["queued", "running"])),
                fields=["status", "lease_expires_at"],
                name="import_run_pending",
            ),
        ),
    ]
