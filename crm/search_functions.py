"""Planner attributes that search and the intake need on PostgreSQL's and pg_trgm's functions (docs/search.md).

Migrations crm 0011 and sync 0013 (``LEAKPROOF``) and crm 0016 (``COST``) set them where the database was
migrated. They belong to the functions, not to our tables, so ``pg_dump`` does not carry them, and a restore
into a fresh database (crm.backups) sets them again with :func:`set_planner_attributes`.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

# Under row-level security only a leakproof condition may be an index condition (migration crm 0011).
LEAKPROOF_FUNCTIONS = (
    "pg_catalog.textlike(text, text)",
    # Not search's: the intake's look-up of a person's recent documents, contact_keys && ARRAY[...] (sync 0013).
    "pg_catalog.arrayoverlap(anyarray, anyarray)",
    "word_similarity_op(text, text)",
    "word_similarity_commutator_op(text, text)",
)
# What a word similarity costs next to one simple operator (migration crm 0016).
WORD_SIMILARITY_COST = 1000
COSTED_FUNCTIONS = (
    "word_similarity_op(text, text)",
    "word_similarity_commutator_op(text, text)",
    "word_similarity(text, text)",
)


def planner_statements(*, trigram: bool = True) -> list[str]:
    """The statements that set the attributes; without pg_trgm, those of PostgreSQL's own functions only."""
    leakproof = [f for f in LEAKPROOF_FUNCTIONS if trigram or f.startswith("pg_catalog.")]
    costed = COSTED_FUNCTIONS if trigram else ()
    return [f"ALTER FUNCTION {f} LEAKPROOF" for f in leakproof] + [
        f"ALTER FUNCTION {f} COST {WORD_SIMILARITY_COST}" for f in costed
    ]


def set_planner_attributes(cursor: Any) -> bool:
    """Mark and price the functions in the connected database; False where the role may not (only a
    superuser may mark a function leakproof): then it logs and changes nothing."""
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cursor.fetchone()[0]:
        logger.warning("search_function_attributes_not_set")
        return False
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
    for statement in planner_statements(trigram=cursor.fetchone()[0]):
        cursor.execute(statement)
    return True
