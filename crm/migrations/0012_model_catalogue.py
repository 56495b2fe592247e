"""The manufacturer's model catalogue (model, trim, powertrain, list price), seeded with the current range.

Network-wide reference data like ``crm_lostreason``: no ``dealer_id``, so no row-level security policy
(0004); the application role reads it through the grants every table of the schema gets. The seed is a
copy of the range as it stood (a migration never imports application code); the admin maintains it
afterwards. Reversing deletes the table and so the seeded rows with it.
"""

from decimal import Decimal

from django.db import migrations, models

# (model, powertrains, ((trim, gross list price EUR), ...)): the line-up the lead form suggested until now.
RANGE = (
    ("Clio", ("petrol", "hybrid"), (("evolution", 19900), ("techno", 22500), ("esprit Alpine", 25900))),
    ("Captur", ("petrol", "hybrid"), (("evolution", 24400), ("techno", 27900), ("esprit Alpine", 31500))),
    ("Mégane E-Tech", ("electric",), (("evolution", 39900), ("techno", 42900), ("iconic", 45900))),
    ("Austral", ("hybrid", "petrol"), (("evolution", 34900), ("techno", 39500), ("iconic", 44900))),
    ("Scenic E-Tech", ("electric",), (("evolution", 42900), ("techno", 47900), ("iconic", 51900))),
    ("Rafale", ("hybrid", "phev"), (("techno", 49900), ("atelier Alpine", 56900))),
    ("Symbioz", ("hybrid",), (("evolution", 31900), ("techno", 34900), ("iconic", 37900))),
    ("Twingo", ("electric", "petrol"), (("equilibre", 16990), ("techno", 19900))),
    ("Kangoo", ("diesel", "electric"), (("Rapid", 28900), ("evolution", 30900), ("techno", 34900))),
    ("Trafic", ("diesel",), (("Kastenwagen L1H1", 36900), ("Combi", 39900), ("SpaceClass", 52900))),
    ("Master", ("diesel", "electric"), (("Kastenwagen L2H2", 45900), ("Pritsche", 44900))),
    ("Arkana", ("hybrid", "petrol"), (("evolution", 31400), ("techno", 34400), ("esprit Alpine", 38400))),
    ("Espace", ("hybrid",), (("techno", 44900), ("iconic", 49900))),
    ("R5 E-Tech", ("electric",), (("evolution", 32900), ("techno", 34900), ("iconic cinq", 36900))),
    ("R4 E-Tech", ("electric",), (("evolution", 29900), ("techno", 33900), ("iconic", 35900))),
)
# The price above is the model's first powertrain; the others cost this much more (or less) in EUR.
SURCHARGE = {"petrol": -1500, "diesel": 1500, "hybrid": 2000, "phev": 7000, "electric": 4000}


def seed(apps, schema_editor):
    VehicleModel = apps.get_model("crm", "VehicleModel")
    rows = []
    for position, (model_name, powertrains, trims) in enumerate(RANGE):
        for index, powertrain in enumerate(powertrains):
            extra = 0 if index == 0 else SURCHARGE[powertrain]
            for trim, price in trims:
                rows.append(
                    VehicleModel(
                        model_name=model_name,
                        trim=trim,
                        powertrain=powertrain,
                        list_price=Decimal(price + extra),
                        position=position,
                    )
                )
    VehicleModel.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    apps.get_model("crm", "VehicleModel").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("crm", "0011_search_indexes")]

    operations = [
        migrations.CreateModel(
            name="VehicleModel",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("model_name", models.CharField(max_length=100, verbose_name="model")),
                ("trim", models.CharField(blank=True, max_length=100, verbose_name="trim")),
                (
                    "powertrain",
                    models.CharField(
                        choices=[
                            ("petrol", "Petrol"),
                            ("diesel", "Diesel"),
                            ("hybrid", "Hybrid"),
                            ("phev", "Plug-in hybrid"),
                            ("electric", "Electric"),
                            ("other", "Other"),
                        ],
                        max_length=10,
                        verbose_name="powertrain",
                    ),
                ),
                (
                    "list_price",
                    models.DecimalField(decimal_places=2, max_digits=10, verbose_name="list price (EUR, gross)"),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                ("position", models.PositiveSmallIntegerField(default=0, verbose_name="position")),
            ],
            options={
                "verbose_name": "vehicle model",
                "verbose_name_plural": "model catalogue",
                "ordering": ["position", "model_name", "trim", "powertrain"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("model_name", "trim", "powertrain"), name="vehiclemodel_unique_version"
                    )
                ],
            },
        ),
        migrations.RunPython(seed, unseed),
    ]
