"""The manufacturer's initial list of lost reasons; managed in the admin afterwards."""

from django.db import migrations

REASONS = [
    ("price", "Preis zu hoch", "Price too high"),
    ("competitor", "Bei Wettbewerber gekauft", "Bought from a competitor"),
    ("other_dealer", "Bei anderem Händler der Marke gekauft", "Bought from another dealer of the brand"),
    ("financing", "Finanzierung abgelehnt", "Financing declined"),
    ("tradein", "Inzahlungnahme nicht einig", "No agreement on trade-in"),
    ("delivery_time", "Lieferzeit zu lang", "Delivery time too long"),
    ("no_interest", "Kein Interesse mehr", "No longer interested"),
    ("unreachable", "Nicht erreichbar", "Could not be reached"),
    ("postponed", "Kauf verschoben", "Purchase postponed"),
    ("duplicate", "Doppelte Anfrage", "Duplicate enquiry"),
]


def add_reasons(apps, schema_editor):
    LostReason = apps.get_model("crm", "LostReason")
    for position, (code, label_de, label_en) in enumerate(REASONS):
        LostReason.objects.get_or_create(
            code=code, defaults={"label_de": label_de, "label_en": label_en, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_search_and_feed_epoch")]

    operations = [migrations.RunPython(add_reasons, migrations.RunPython.noop)]
