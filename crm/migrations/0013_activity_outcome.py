"""How a call went (issue 16, item 8): ``Activity.outcome``; other kinds of activity leave it blank.

A NOT NULL column with a constant default (""): PostgreSQL 11+ keeps the default in the catalogue and
rewrites no rows, so the ALTER TABLE holds its lock for milliseconds however many activities there are
(crm/settings_lint.py). The default stays on the column (``db_default``): nodes still running the release
before insert activities without naming it during a rolling deploy. The calls logged before, with "Not reached" only as their subject, get their
outcome in 0014, outside this short transaction.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0012_model_catalogue"),
    ]

    operations = [
        migrations.AddField(
            model_name="activity",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "(none)"),
                    ("reached", "Reached"),
                    ("not_reached", "Not reached"),
                    ("voicemail", "Voicemail left"),
                    ("wrong_number", "Wrong number"),
                    ("call_back_requested", "Call-back requested"),
                ],
                db_default="",
                default="",
                max_length=20,
                verbose_name="outcome",
            ),
        ),
    ]
