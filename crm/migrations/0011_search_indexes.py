"""Search that its indexes serve, within one dealership (issue 15; docs/search.md).

- ``prospect_search``: a trigram GIN index on ``(dealer_id, search_text)`` (``btree_gin`` lets a GIN
  index lead with ``dealer_id``) replaces the table-wide ``prospect_search_trgm``: it serves
  ``search_text %> word`` and ``LIKE '%word%'``. Built only where ``pg_trgm`` is installed (migration
  0002); without ``btree_gin`` the table-wide index stays.
- ``prospect_email_prefix``, ``prospect_phone_prefix``, ``prospect_mobile_prefix``: ``(dealer_id, column
  varchar_pattern_ops)`` replace ``prospect_email``, ``prospect_phone``, ``prospect_mobile``: they serve
  equality (duplicate detection) and the prefix ranges of e-mail and phone search.
- Row-level security (migration 0004) lets PostgreSQL use a condition as an index condition only when
  its function is leakproof; ``LIKE`` and pg_trgm's word-similarity operators are not marked so, and
  under the policy every search filtered all of a dealership's rows. Run by a superuser (the only
  role that may), this migration marks them ``LEAKPROOF``: none of them raises an error or a notice
  that depends on the row's text, so evaluating them before the policy reveals nothing. Run by another
  role it changes nothing and logs ``search_operators_not_leakproof``; search stays correct but walks
  the dealership's rows until a superuser runs the statements in docs/search.md.

Indexes are built ``CONCURRENTLY`` (a non-atomic migration): crm_prospect is the biggest table.
"""

import logging

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

logger = logging.getLogger(__name__)

# The functions behind ``~~`` (LIKE) and ``%>`` / ``<%`` (word similarity); see docs/search.md.
SEARCH_OPERATOR_FUNCTIONS = (
    "pg_catalog.textlike(text, text)",
    "word_similarity_op(text, text)",
    "word_similarity_commutator_op(text, text)",
)


def _installed(cursor, name):
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = %s)", [name])
    return cursor.fetchone()[0]


def create_search_index(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if not _installed(cursor, "pg_trgm"):
            return
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gin')")
        if cursor.fetchone()[0]:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
            cursor.execute(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS prospect_search "
                "ON crm_prospect USING gin (dealer_id, search_text gin_trgm_ops)"
            )
            cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS prospect_search_trgm")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            for function in SEARCH_OPERATOR_FUNCTIONS:
                cursor.execute(f"ALTER FUNCTION {function} LEAKPROOF")
        else:
            logger.warning("search_operators_not_leakproof")


def drop_search_index(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if not _installed(cursor, "pg_trgm"):
            return
        cursor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS prospect_search_trgm ON crm_prospect USING gin (search_text gin_trgm_ops)"
        )
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS prospect_search")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            for function in SEARCH_OPERATOR_FUNCTIONS:
                cursor.execute(f"ALTER FUNCTION {function} NOT LEAKPROOF")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("crm", "0010_lead_first_contact_waiting")]

    operations = [
        AddIndexConcurrently(
            model_name="prospect",
            index=models.Index(
                fields=["dealer", "email_normalized"],
                name="prospect_email_prefix",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ),
        RemoveIndexConcurrently(model_name="prospect", name="prospect_email"),
        AddIndexConcurrently(
            model_name="prospect",
            index=models.Index(
                fields=["dealer", "phone"], name="prospect_phone_prefix", opclasses=["int8_ops", "varchar_pattern_ops"]
            ),
        ),
        RemoveIndexConcurrently(model_name="prospect", name="prospect_phone"),
        AddIndexConcurrently(
            model_name="prospect",
            index=models.Index(
                fields=["dealer", "mobile"],
                name="prospect_mobile_prefix",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ),
        RemoveIndexConcurrently(model_name="prospect", name="prospect_mobile"),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
