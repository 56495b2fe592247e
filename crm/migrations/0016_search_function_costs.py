"""Word similarity priced as what it costs, so that the planner chooses the trigram index (issue 15).

pg_trgm declares its functions at ``COST 1``, the price of one simple operator. Computing the word
similarity of a word and a prospect's ``search_text`` takes about 7 microseconds. At 1M prospects the
planner therefore walked the largest dealership's 47,000 rows through the plain ``dealer_id`` index and
computed the similarity of each (330 ms for a name search) instead of reading the candidates of the
trigram index ``prospect_search`` (8 ms for a rare infix, 45 ms for one that 6,600 of the rows hold).
``COST 300`` (7 microseconds against an operator's 0.0025 of a page read at 10 microseconds) was enough
at 1M, not at 3M: there the planner still walked 140,000 rows (903 ms against 178 ms), because it prices
the bitmap scan's page reads as a disk's (``random_page_cost`` 4) where the server reads them from
memory. At ``COST 1000`` it chooses the index at both sizes (``bench/sql/prospect_search_*.sql`` name
it; ``python -m bench.plans`` checks it).

Like the ``LEAKPROOF`` marks of migration 0011 these are attributes of the extension's functions: only
a superuser (or their owner) may set them, ``pg_dump`` does not carry them, and where this migration
may not set them it changes nothing and logs ``search_function_costs_not_set`` (docs/search.md has the
statements to run).
"""

import logging

from django.db import migrations

logger = logging.getLogger(__name__)

# The functions behind ``%>`` / ``<%`` and the ranking of crm.selectors.best_matches.
WORD_SIMILARITY_FUNCTIONS = (
    "word_similarity_op(text, text)",
    "word_similarity_commutator_op(text, text)",
    "word_similarity(text, text)",
)
COST = 1000
PG_TRGM_COST = 1


def _set_cost(schema_editor, cost):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
        if not cursor.fetchone()[0]:
            return
        cursor.execute(
            "SELECT bool_and(r.rolsuper OR pg_has_role(current_user, p.proowner, 'USAGE')) "
            "FROM pg_proc p, pg_roles r WHERE r.rolname = current_user "
            "AND p.oid = ANY (%s::regprocedure[]::oid[])",
            [list(WORD_SIMILARITY_FUNCTIONS)],
        )
        if not cursor.fetchone()[0]:
            logger.warning("search_function_costs_not_set")
            return
        for function in WORD_SIMILARITY_FUNCTIONS:
            cursor.execute(f"ALTER FUNCTION {function} COST {int(cost)}")


def price_word_similarity(apps, schema_editor):
    _set_cost(schema_editor, COST)


def restore_pg_trgm_price(apps, schema_editor):
    _set_cost(schema_editor, PG_TRGM_COST)


class Migration(migrations.Migration):
    dependencies = [("crm", "0015_dashboard_indexes")]

    operations = [migrations.RunPython(price_word_similarity, restore_pg_trgm_price, elidable=False)]
