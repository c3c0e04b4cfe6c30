from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0025_alert_episodes"),
    ]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="group_type",
            field=models.CharField(
                blank=True,
                default="",
                help_text="A group deletion: the deleted group's type (consumer, classic, streams), which tells "
                "whether its undo may commit its offsets back; empty for other kinds, and for deletions recorded "
                "before it was kept.",
                max_length=20,
            ),
        ),
    ]
