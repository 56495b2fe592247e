"""Row-level security on staff invitations, like every dealer-owned table (crm/0004_row_level_security).

The accept link carries the invitation's dealership inside its signature, so accepting works in that
dealership's scope (dealers.rls.dealer_scope) and needs no manufacturer-wide access.
"""

from django.db import migrations

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"

ENABLE = (
    "ALTER TABLE dealers_invitation ENABLE ROW LEVEL SECURITY; "
    "ALTER TABLE dealers_invitation FORCE ROW LEVEL SECURITY; "
    f"CREATE POLICY dealer_isolation ON dealers_invitation USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS});"
)
DISABLE = (
    "DROP POLICY IF EXISTS dealer_isolation ON dealers_invitation; "
    "ALTER TABLE dealers_invitation NO FORCE ROW LEVEL SECURITY; "
    "ALTER TABLE dealers_invitation DISABLE ROW LEVEL SECURITY;"
)


class Migration(migrations.Migration):
    dependencies = [
        ("dealers", "0004_staff_invitations"),
        ("crm", "0004_row_level_security"),
    ]

    operations = [migrations.RunSQL(ENABLE, DISABLE)]
