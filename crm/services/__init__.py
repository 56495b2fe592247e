"""State changes of the prospect and lead domain.

Every function is keyword-only, takes the acting ``actor``, runs in one transaction,
records its change-log row there, and is the only way views, API, admin, tasks and
commands change these records.
"""
