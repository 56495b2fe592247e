from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_row_level_security"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sentemail",
            name="message_id",
            field=models.CharField(max_length=255, verbose_name="Message-ID"),
        ),
        migrations.AlterField(
            model_name="sentemail",
            name="reply_token",
            field=models.CharField(max_length=40, verbose_name="reply token"),
        ),
        migrations.AddConstraint(
            model_name="sentemail",
            constraint=models.UniqueConstraint(fields=("message_id",), name="sentemail_message_id"),
        ),
        migrations.AddConstraint(
            model_name="sentemail",
            constraint=models.UniqueConstraint(fields=("reply_token",), name="sentemail_reply_token"),
        ),
    ]
