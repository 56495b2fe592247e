# The intake document links to the API key it came with (the key model landed in dealers 0002).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dealers", "0002_api_keys"),
        ("sync", "0003_inbound"),
    ]

    operations = [
        migrations.RemoveField(model_name="intakedocument", name="api_key"),
        migrations.AddField(
            model_name="intakedocument",
            name="api_key",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="dealers.apikey",
                verbose_name="API key",
            ),
        ),
        migrations.AddField(
            model_name="intakedocument",
            name="api_key_prefix",
            field=models.CharField(blank=True, max_length=40, verbose_name="API key prefix"),
        ),
    ]
