# The head's key becomes (time, series): migrations cannot change a composite primary key, so the
# head moves to a new table, its rows (the rounds not packed yet) copied, and the rounds they belong to
# recorded in HistoryRound, through which reads now find a series' head rows.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0015_share_reset"),
    ]

    operations = [
        migrations.AddField(
            model_name="historywatermark",
            name="packing_done_through",
            field=models.BigIntegerField(
                default=0, help_text="The packing under way has packed the series up to this id."
            ),
        ),
        migrations.AddField(
            model_name="historywatermark",
            name="packing_until_ms",
            field=models.BigIntegerField(default=0, help_text="The packing under way packs rounds before this."),
        ),
        migrations.CreateModel(
            name="HistoryRound",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "cluster", "kind", "t_ms", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("kind", models.CharField(max_length=20)),
                ("t_ms", models.BigIntegerField()),
                (
                    "cluster",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="groups.cluster",
                    ),
                ),
            ],
        ),
        migrations.RenameModel("HistoryPoint", "HistoryPointBySeries"),
        migrations.CreateModel(
            name="HistoryPoint",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "t_ms", "series", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("t_ms", models.BigIntegerField()),
                (
                    "series",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="groups.historyseries",
                    ),
                ),
                ("data", models.TextField()),
            ],
        ),
        migrations.RunSQL(
            "INSERT INTO groups_historypoint (t_ms, series_id, data) "
            "SELECT t_ms, series_id, data FROM groups_historypointbyseries",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            "INSERT INTO groups_historyround (cluster_id, kind, t_ms) "
            "SELECT DISTINCT s.cluster_id, s.kind, p.t_ms FROM groups_historypoint p "
            "JOIN groups_historyseries s ON s.id = p.series_id",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.DeleteModel("HistoryPointBySeries"),
    ]
