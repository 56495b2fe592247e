"""The calls the one-click "Not reached" logged before 0013 kept that only as their subject: their outcome.

The button wrote the subject in the clicking user's language, so both spellings are matched, exactly.
Reversing writes "Not reached" into the subject of unanswered calls that have none (the one-click logs
them without a subject since 0013), so the information outlives the column that 0013's reversal drops.

Runs in the migration's manufacturer-wide scope (dealers.rls, ``pre_migrate``), like every migration.
Versions are not bumped: the outcome was already there in words, and no change-log entry is owed.
"""

from django.db import migrations

NOT_REACHED_SUBJECTS = ("Not reached", "Nicht erreicht")


def outcome_from_subject(apps, schema_editor):
    Activity = apps.get_model("crm", "Activity")
    Activity.objects.filter(kind="call", outcome="", subject__in=NOT_REACHED_SUBJECTS).update(outcome="not_reached")


def subject_from_outcome(apps, schema_editor):
    Activity = apps.get_model("crm", "Activity")
    Activity.objects.filter(kind="call", outcome="not_reached", subject="").update(subject=NOT_REACHED_SUBJECTS[0])
    Activity.objects.filter(kind="call", outcome="not_reached", subject__in=NOT_REACHED_SUBJECTS).update(outcome="")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_activity_outcome"),
    ]

    operations = [migrations.RunPython(outcome_from_subject, subject_from_outcome)]
