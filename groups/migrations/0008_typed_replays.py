"""A replay's request moves from JSON in `Operation.strategy_value` to its own typed `Replay` row.

Its checkpoint group moves from `Operation.group_id` to `Replay.copy_group`, since a replay changes
no group. Every replay keeps what it was asked to copy and where its copy stands, so a running one
resumes from its checkpoint after the upgrade; going back restores the JSON and the group id.
"""

import json

import django.db.models.deletion
from django.db import migrations, models

# The request's fields that have a column of the same name; in the filters, "" stands for None.
_SAME_NAMES = (
    "topic",
    "time_from_ms",
    "time_to_ms",
    "target_topic",
    "partitioning",
    "keep_timestamps",
    "throttle_rps",
    "exactly_once",
)
_FILTERS = ("key_equals", "key_regex", "header_present")


def to_rows(apps, schema_editor):
    Operation = apps.get_model("groups", "Operation")
    Replay = apps.get_model("groups", "Replay")
    for operation in Operation.objects.filter(kind="replay").iterator():
        request = json.loads(operation.strategy_value or "{}")
        header_equals = request.get("header_equals")
        Replay.objects.create(
            operation=operation,
            copy_group=operation.group_id,
            partitions=request.get("partitions"),
            offsets=request.get("offsets"),
            header_name=header_equals[0] if header_equals is not None else "",
            header_value=header_equals[1] if header_equals is not None else "",
            **{name: request[name] for name in _SAME_NAMES if request.get(name) is not None},
            **{name: request.get(name) or "" for name in _FILTERS},
        )
        Operation.objects.filter(pk=operation.pk).update(group_id="", strategy="", strategy_value="", scope="")


def to_json(apps, schema_editor):
    Operation = apps.get_model("groups", "Operation")
    for replay in apps.get_model("groups", "Replay").objects.iterator():
        request = {name: getattr(replay, name) for name in _SAME_NAMES}
        request.update({name: getattr(replay, name) or None for name in _FILTERS})
        request.update(
            partitions=replay.partitions,
            offsets=replay.offsets,
            header_equals=([replay.header_name, replay.header_value] if replay.header_name else None),
        )
        Operation.objects.filter(pk=replay.operation_id).update(
            group_id=replay.copy_group,
            strategy="by-offsets" if replay.offsets is not None else "by-time",
            strategy_value=json.dumps(request),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0007_replay_stalls"),
    ]

    operations = [
        migrations.CreateModel(
            name="Replay",
            fields=[
                (
                    "operation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="replay",
                        serialize=False,
                        to="groups.operation",
                    ),
                ),
                ("copy_group", models.TextField(unique=True)),
                ("topic", models.CharField(max_length=249)),
                (
                    "partitions",
                    models.JSONField(blank=True, help_text="Source partitions chosen; empty for all.", null=True),
                ),
                ("offsets", models.JSONField(blank=True, help_text="By offsets: partition -> [from, to).", null=True)),
                ("time_from_ms", models.BigIntegerField(blank=True, null=True)),
                ("time_to_ms", models.BigIntegerField(blank=True, null=True)),
                ("key_equals", models.TextField(blank=True, default="")),
                ("key_regex", models.TextField(blank=True, default="")),
                ("header_present", models.TextField(blank=True, default="")),
                (
                    "header_name",
                    models.TextField(blank=True, default="", help_text="With header_value: copy records with it."),
                ),
                ("header_value", models.TextField(blank=True, default="")),
                ("target_topic", models.CharField(max_length=249)),
                ("partitioning", models.CharField(default="same", max_length=20)),
                ("keep_timestamps", models.BooleanField(default=True)),
                ("throttle_rps", models.PositiveIntegerField(blank=True, null=True)),
                ("exactly_once", models.BooleanField(default=True)),
            ],
        ),
        migrations.RunPython(to_rows, to_json),
    ]
