"""Row-level security on the e-mail tables, as the application role: network templates are read by every
dealership and written by none; a dealership's templates, e-mails and inbound mail are its own."""

from __future__ import annotations

import pytest
from psycopg import errors

from crm.messaging.models import EmailTemplate, InboundEmail
from dealers import rls
from tests.factories import DealerFactory
from tests.security.test_row_level_security import _app_connection

pytestmark = pytest.mark.django_db(transaction=True)


def test_network_templates_are_read_by_every_dealership_and_written_by_none() -> None:
    a, b = DealerFactory.create(), DealerFactory.create()
    EmailTemplate.objects.create(dealer=None, name="Netz", subject_de="N", body_de="N")
    EmailTemplate.objects.create(dealer=a, name="A", subject_de="A", body_de="A")
    EmailTemplate.objects.create(dealer=b, name="B", subject_de="B", body_de="B")
    InboundEmail.objects.create(status="unmatched", raw=b"x", envelope_to=["99999@antwort.example"])

    with _app_connection(**{rls.DEALER_SETTING: str(a.pk)}) as conn:
        names = {name for (name,) in conn.execute("SELECT name FROM messaging_emailtemplate").fetchall()}
        assert {"Netz", "A"} <= names
        assert "B" not in names
        assert conn.execute("UPDATE messaging_emailtemplate SET name = 'x' WHERE dealer_id IS NULL").rowcount == 0
        assert conn.execute("SELECT count(*) FROM messaging_inboundemail").fetchone() == (0,)
        for dealer in (None, b.pk):
            insert = (
                "INSERT INTO messaging_emailtemplate (dealer_id, name, purpose, subject_de, body_de, subject_en, "
                "body_en, is_active, created_at, updated_at) "
                "VALUES (%s, 'x', 'service', 'x', 'x', '', '', true, now(), now())"
            )
            with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
                conn.execute(insert, [dealer])
    with _app_connection(**{rls.SCOPE_SETTING: rls.MANUFACTURER}) as conn:
        assert conn.execute("SELECT count(*) FROM messaging_inboundemail WHERE dealer_id IS NULL").fetchone() == (1,)
