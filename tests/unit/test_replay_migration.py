"""The migration that gives a replay a typed request row carries existing replays over unchanged (no broker)."""

import json

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from groups.models import Operation
from groups.operations import replays
from groups.planning.replays import ReplayRequest

BEFORE = [("groups", "0007_replay_stalls")]
AFTER = [("groups", "0008_typed_replays")]
# A request as the console stored it before, JSON in strategy_value, with every field set.
STORED = {
    "topic": "orders",
    "partitions": [0, 2],
    "offsets": {"0": [5, 10], "2": [0, 3]},
    "time_from_ms": None,
    "time_to_ms": None,
    "key_equals": None,
    "key_regex": "^user-",
    "header_present": None,
    "header_equals": ["source", "billing"],
    "target_topic": "orders-copy",
    "partitioning": "key-hash",
    "keep_timestamps": False,
    "throttle_rps": 500,
    "exactly_once": False,
}


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes("groups")


def test_a_replay_keeps_its_request_and_checkpoint_group_and_a_reset_is_left_alone(transactional_db):
    try:
        old = _migrate(BEFORE)
        cluster = old.get_model("groups", "Cluster").objects.create(name="m", bootstrap_servers="kafka:9092")
        stored = old.get_model("groups", "Operation").objects
        replay = stored.create(
            kind="replay",
            cluster=cluster,
            group_id="console-replay-abc",
            strategy="by-offsets",
            strategy_value=json.dumps(STORED),
            scope="orders:0,2",
            reason="backfill",
            plan=[{"topic": "orders", "partition": 0, "start": 5, "end": 10, "count": 5}],
        )
        reset = stored.create(
            kind="reset",
            cluster=cluster,
            group_id="payments",
            strategy="shift-by",
            strategy_value="-10",
            scope="orders",
            reason="replay the bug",
        )

        new = _migrate(AFTER)
        row = new.get_model("groups", "Replay").objects.get(operation_id=replay.pk)
        assert (row.copy_group, row.topic, row.target_topic, row.header_name, row.header_value) == (
            "console-replay-abc",
            "orders",
            "orders-copy",
            "source",
            "billing",
        )
        moved = new.get_model("groups", "Operation").objects.get(pk=replay.pk)
        assert (moved.group_id, moved.strategy, moved.strategy_value, moved.plan) == ("", "", "", replay.plan)
        kept = new.get_model("groups", "Operation").objects.get(pk=reset.pk)
        assert (kept.group_id, kept.strategy, kept.strategy_value, kept.scope) == (
            "payments",
            "shift-by",
            "-10",
            "orders",
        )

        back = _migrate(BEFORE).get_model("groups", "Operation").objects.get(pk=replay.pk)
        assert (back.group_id, json.loads(back.strategy_value)) == ("console-replay-abc", STORED)
    finally:
        _migrate(_latest())
    assert replays.request_of(Operation.objects.get(pk=replay.pk)) == ReplayRequest.from_json(STORED)
