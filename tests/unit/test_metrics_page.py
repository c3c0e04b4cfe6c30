"""`/metrics` over the database (no broker): which groups it lists, and the console's own figures.

The snapshot rows are written through the collector's writer with synthetic values; the real
collector's rows are checked against the broker in tests/integration/test_metrics.py.
"""

import time

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from groups.models import AlertRule, AlertState, Cluster, Collection, Operation
from groups.snapshot import rows, store
from groups.snapshot.evaluate import Evaluated
from groups.snapshot.rows import GroupRow

pytestmark = pytest.mark.django_db

TOKEN = "unit-test-scrape-token-0123456789"


@pytest.fixture(autouse=True)
def scrape_token(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, []


def _row(group_id: str, lag: int, *, replay_operation_id: int | None = None) -> GroupRow:
    detail = rows.encode_group_detail([rows.PartitionDetail("orders", 0, 100, 0, 100 + lag, lag, 1.5, "OK", None)])
    return GroupRow(
        group_id=group_id,
        state="Empty",
        type="classic",
        members=0,
        topics=["orders"],
        partitions=1,
        lag=lag,
        detail=detail,
        window="{}",
        replay_operation_id=replay_operation_id,
        lag_seconds=1.5,
        status="OK",
    )


def _write(cluster: Cluster, groups: list[GroupRow]) -> None:
    evaluated = Evaluated(
        window_ms=(int(time.time() * 1000),), groups=groups, topics=[], partition_count=len(groups), summary={}
    )
    store.write_snapshot(cluster, evaluated, taken_at_ms=evaluated.window_ms[0], read_seconds=0.1)


def _scrape(client) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return {
        family.name: [(s.labels, s.value) for s in family.samples] for family in text_string_to_metric_families(text)
    }


def _operation(cluster: Cluster, kind: str, status: str) -> Operation:
    return Operation.objects.create(kind=kind, cluster=cluster, group_id="g", reason="test", status=status)


def test_replay_checkpoint_groups_are_left_out(client):
    cluster = Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")
    replay = _operation(cluster, Operation.Kind.REPLAY, Operation.Status.RUNNING)
    _write(cluster, [_row("orders-app", 5), _row("console-replay-7", 9, replay_operation_id=replay.pk)])
    samples = _scrape(client)
    for name in (
        "kafka_consumergroup_group_sum_lag",
        "kafka_consumergroup_group_lag",
        "kafka_consumergroup_group_offset",
        "kafka_console_group_status",
    ):
        assert {labels["group"] for labels, _ in samples[name]} == {"orders-app"}, name


def test_each_cluster_reports_its_snapshot_age_staleness_and_rounds(client):
    fresh = Cluster.objects.create(name="fresh", bootstrap_servers="127.0.0.1:1")
    never = Cluster.objects.create(name="never", bootstrap_servers="127.0.0.1:2")
    _write(fresh, [_row("a", 1)])
    store.record_round_seconds(fresh, 2.5)
    store.count_skipped(fresh)
    store.mark_failed(never, "Kafka at 127.0.0.1:2 did not answer.")
    samples = _scrape(client)

    age = {labels["cluster_name"]: value for labels, value in samples["kafka_console_snapshot_age_seconds"]}
    assert list(age) == ["fresh"] and 0 <= age["fresh"] < 60  # no snapshot, no age
    assert ({"cluster_name": "fresh"}, 0) in samples["kafka_console_snapshot_stale"]
    assert ({"cluster_name": "never"}, 1) in samples["kafka_console_snapshot_stale"]
    assert samples["kafka_console_collection_duration_seconds"] == [({"cluster_name": "fresh"}, 2.5)]
    rounds = {
        (labels["cluster_name"], labels["outcome"]): value
        for labels, value in samples["kafka_console_collection_rounds"]
    }
    assert rounds == {
        ("fresh", "collected"): 1,
        ("fresh", "failed"): 0,
        ("fresh", "skipped"): 1,
        ("never", "collected"): 0,
        ("never", "failed"): 1,
        ("never", "skipped"): 0,
    }
    assert Collection.objects.get(cluster=never).snapshot is None


def test_operations_are_counted_by_kind_and_outcome_with_zeros_for_the_rest(client):
    cluster = Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")
    for _ in range(2):
        _operation(cluster, Operation.Kind.RESET, Operation.Status.SUCCEEDED)
    _operation(cluster, Operation.Kind.RESET, Operation.Status.FAILED)
    _operation(cluster, Operation.Kind.REPLAY, Operation.Status.RUNNING)
    _operation(cluster, Operation.Kind.DELETE_GROUP, Operation.Status.AWAITING_APPROVAL)
    samples = _scrape(client)
    ended = {(labels["kind"], labels["outcome"]): value for labels, value in samples["kafka_console_operations"]}
    assert len(ended) == len(Operation.Kind) * len(Operation.FINAL) and sum(ended.values()) == 3
    assert ended[("reset", "succeeded")] == 2 and ended[("reset", "failed")] == 1
    assert ended[("replay", "cancelled")] == 0
    open_ = {(labels["kind"], labels["status"]): value for labels, value in samples["kafka_console_operations_open"]}
    assert open_[("replay", "running")] == 1 and open_[("delete_group", "awaiting_approval")] == 1
    assert sum(open_.values()) == 2


def test_alert_states_are_counted_per_enabled_rule(client):
    cluster = Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")
    rule = AlertRule.objects.create(name='lag "high"', statuses=["ERR"])
    quiet = AlertRule.objects.create(name="quiet", statuses=["STOP"])
    off = AlertRule.objects.create(name="off", statuses=["STOP"], enabled=False)
    now = timezone.now()
    for group, phase in (("a", "firing"), ("b", "firing"), ("c", "pending"), ("d", "resolved")):
        AlertState.objects.create(rule=rule, cluster=cluster, group_id=group, phase=phase, updated=now)
    AlertState.objects.create(rule=off, cluster=cluster, group_id="a", phase="firing", updated=now)
    samples = _scrape(client)
    counts = {
        (labels["rule_id"], labels["rule"], labels["phase"]): value for labels, value in samples["kafka_console_alerts"]
    }
    assert counts == {
        (str(rule.pk), 'lag "high"', "firing"): 2,
        (str(rule.pk), 'lag "high"', "pending"): 1,
        (str(quiet.pk), "quiet", "firing"): 0,
        (str(quiet.pk), "quiet", "pending"): 0,
    }


def test_a_scrape_needs_no_sign_in_and_a_refusal_is_one_plain_line(client):
    refused = client.get("/metrics")
    assert refused.status_code == 403  # not the sign-in page's redirect
    assert refused["Content-Type"].startswith("text/plain")
    assert refused.content.decode().count("\n") == 1
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/metrics/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405
