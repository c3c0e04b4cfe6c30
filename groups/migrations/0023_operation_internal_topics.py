from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("groups", "0022_dated_records")]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="internal_topics",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="A streams group's reset or deletion: the application's internal topics to delete after "
                "it (topic, partitions), and once run whether each went (deleted, error).",
            ),
        ),
    ]
