"""The migration that keeps alerts that ended as episodes carries the alerts resolved before it over (no broker)."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("groups", "0024_operation_preview_nonce")]
AFTER = [("groups", "0025_alert_episodes")]
FIRED = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes("groups")


def test_an_alert_resolved_before_the_migration_is_kept_with_its_notifications_and_a_firing_one_is_not(
    transactional_db,
):
    try:
        old = _migrate(BEFORE)
        cluster = old.get_model("groups", "Cluster").objects.create(name="m", bootstrap_servers="kafka:9092")
        rule = old.get_model("groups", "AlertRule").objects.create(name="stalls", statuses=["STALL"])
        states = old.get_model("groups", "AlertState").objects
        common = {"rule": rule, "cluster": cluster, "firing_since": FIRED, "updated": FIRED}
        resolved = states.create(
            group_id="payments",
            phase="resolved",
            resolved_at=FIRED + timedelta(minutes=20),
            notifications=2,
            summary="status ERR is one of STALL",
            facts={"status": "OK", "lag": 0},
            **common,
        )
        states.create(group_id="orders", phase="firing", notifications=1, **common)
        sent = old.get_model("groups", "AlertDelivery").objects.create(
            state=resolved, event="resolved", channel="email", target="a@example.com", payload={}, created=FIRED
        )

        new = _migrate(AFTER)
        kept = new.get_model("groups", "AlertEpisode").objects.get()
        assert (kept.rule_id, kept.rule_name, kept.cluster_id, kept.group_id) == (
            rule.pk,
            "stalls",
            cluster.pk,
            "payments",
        )
        assert (kept.pending_since, kept.firing_since, kept.resolved_at) == (None, FIRED, resolved.resolved_at)
        assert (kept.summary, kept.facts, kept.notifications, kept.muted) == (
            "status ERR is one of STALL",
            {"status": "OK", "lag": 0},
            3,  # firing, still firing, and the resolve
            False,
        )
        assert new.get_model("groups", "AlertDelivery").objects.get(pk=sent.pk).episode_id == kept.pk
    finally:
        _migrate(_latest())
