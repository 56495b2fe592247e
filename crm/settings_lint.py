"""Settings for ``make lint`` only: ``crm.settings`` plus django-migration-linter.

``manage.py lintmigrations --settings crm.settings_lint`` needs the linter installed as an app; this
module adds it so that ``crm.settings``, which production loads, never carries a development tool.

The linter reads each migration's SQL (``sqlmigrate``) and fails on what locks or rewrites a busy
table while old and new code share the database during a deploy (STYLE.md section 2.11): a column
type change, NOT NULL without a default, dropped or renamed columns and tables, ``CREATE INDEX``
without ``CONCURRENTLY`` on an existing table, irreversible ``RunPython``/``RunSQL``. Warnings count
as errors. A migration that does such a thing on purpose is reviewed and listed below with the
reason it is safe; ``RunSQL`` migrations that only create policies, roles or grants (row-level
security) pass as they are, as long as they are reversible.
"""

from crm.settings import *  # noqa: F403
from crm.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_migration_linter"]

# Reviewed exceptions, by migration name (the linter matches names, not app labels: keep them unique).
REVIEWED_MIGRATIONS = {
    # dealers: response_body jsonb -> text NOT NULL rewrites dealers_idempotencyrecord under an exclusive
    # lock; the table holds idempotency records for a day only (pruned hourly), so it stays small.
    "0003_idempotency_body_text": "rewrite of a small, pruned table",
    # dealers: the linter misreads the expression index on LOWER(email) (its regex takes the table
    # name up to the last parenthesis); every index is on dealers_invitation, created in this migration.
    "0004_staff_invitations": "indexes on the table the migration creates",
    # sync: drops and re-adds api_key as a foreign key, with its index, on sync_intakedocument; written
    # the same day as the table (0003_inbound), before any database that had to stay up held intake rows.
    "0004_intake_api_key": "same development cycle as the table it changes",
    # sync: the import queue's index on sync_importrun, one row per CSV upload (thousands at most):
    # built in milliseconds, so a plain CREATE INDEX inside the migration's transaction is harmless.
    "0006_import_run_queue": "index on a small table (one row per upload)",
    # crm: a NOT NULL column with a constant default (""): PostgreSQL 11+ stores the default in the
    # catalogue and rewrites no rows, so the ALTER TABLE holds its lock for milliseconds on any size.
    "0005_lead_contact_channel": "constant default: catalogue-only on PostgreSQL 11+",
    # crm: Activity.outcome, the same case: a NOT NULL column with the constant default "" (its data step is 0014).
    "0013_activity_outcome": "constant default: catalogue-only on PostgreSQL 11+",
    # crm: the read audit's indexes (BRIN on time, by person) are on crm_readaudit, which this same
    # migration creates: an empty table, so building them locks nothing anyone waits for.
    "0009_read_audit": "indexes on the table the migration creates",
    # crm: the lead counts' index is on crm_leadstagecount, created by this migration. Its triggers and the
    # first counts hold off writes to crm_lead while they are made (seconds at 30M leads): on purpose, so
    # that no lead is counted twice or missed (crm/lead_counts.py).
    "0017_lead_stage_counts": "index on the table the migration creates; writes to crm_lead wait seconds",
    # messaging: swaps two unique fields for unique constraints on messaging_sentemail/inboundemail, which
    # 0001 of the same release creates: empty tables, so the index work locks nothing anyone waits for.
    "0003_unique_without_pattern_index": "tables created in the same release, empty",
}

MIGRATION_LINTER_OPTIONS = {
    # Ours (crm's own apps by their labels); third-party apps' migrations are not ours to change.
    "include_apps": [
        "dealers",
        "crm",
        "sync",
        "ha",
        "appointments",
        "messaging",
        "quotes",
        "notifications",
        "campaigns",
    ],
    "ignore_name": list(REVIEWED_MIGRATIONS),
    "warnings_as_errors": [],  # [] means every warning
    "no_cache": True,
}
