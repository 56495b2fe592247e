"""The admin's start page warns plainly when the database lacks pg_trgm (search without typo tolerance)."""

from __future__ import annotations

from django.db import connection
from django.urls import reverse
from django.utils import translation

WARNING = "PostgreSQL lacks the extension pg_trgm"


def test_no_warning_when_pg_trgm_is_installed(manufacturer_admin, client_for) -> None:
    response = client_for(manufacturer_admin).get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert WARNING not in response.content.decode()


def test_the_admin_index_names_a_missing_pg_trgm(manufacturer_admin, client_for) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION IF EXISTS pg_trgm CASCADE")  # rolled back with the test's transaction

    with translation.override("en"):
        response = client_for(manufacturer_admin).get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    page = response.content.decode()
    assert WARNING in page
    assert "CREATE EXTENSION pg_trgm" in page
