"""Resets carried out by a real Celery worker against the real broker."""

import pytest

from groups import resets
from groups.kafka import TP, client_for
from groups.models import AuditEvent, Operation
from tests import kafkatools as kt

pytestmark = pytest.mark.integration


def _wait_final(operation: Operation, timeout: float = 60) -> Operation:
    def final():
        operation.refresh_from_db()
        return operation.is_final
    kt.wait_for(final, timeout=timeout, what=f"operation #{operation.pk} to finish")
    return operation


def _request(cluster, group, kind, value="", scope="", **kw):
    preview = resets.preview_reset(client_for(cluster), group, kind, value, scope, undo_of=kw.get("undo_of"))
    return resets.request_operation(
        cluster=cluster, group_id=group, kind=Operation.Kind.RESET, plan=resets.plan_rows(preview.plan),
        reason="test", actor="tester", strategy=kind, strategy_value=value, scope=scope, **kw,
    )


@pytest.fixture
def lagging_group(kafka_bootstrap, unique):
    topic, group = unique("exec"), unique("exec-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 50, 1: 40})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 30, (topic, 1): 40})
    return topic, group


def _committed(cluster, group):
    return client_for(cluster).committed_offsets([group])[group]


def test_worker_applies_verifies_and_records_a_reset(celery_worker, cluster, lagging_group):
    topic, group = lagging_group
    operation = _wait_final(_request(cluster, group, "to-earliest"))
    assert operation.status == "succeeded", operation.error
    assert _committed(cluster, group) == {TP(topic, 0): 0, TP(topic, 1): 0}
    assert all(o["verified"] for o in operation.outcome)
    actions = list(AuditEvent.objects.filter(operation=operation).order_by("id").values_list("action", flat=True))
    assert actions == ["requested", "started", "succeeded"]


def test_undo_restores_the_exact_before_offsets(celery_worker, cluster, lagging_group):
    topic, group = lagging_group
    first = _wait_final(_request(cluster, group, "shift-by", "-25"))
    assert first.status == "succeeded", first.error
    assert _committed(cluster, group) == {TP(topic, 0): 5, TP(topic, 1): 15}
    undo = _wait_final(_request(cluster, group, "undo", undo_of=first))
    assert undo.status == "succeeded", undo.error
    assert undo.undo_of == first
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 40}


def test_an_active_group_is_refused_and_nothing_is_written(celery_worker, cluster, kafka_bootstrap, lagging_group):
    topic, group = lagging_group
    preview = resets.preview_reset(client_for(cluster), group, "to-latest")  # while the group is Empty
    member = kt.Member(kafka_bootstrap, group, [topic], client_id="live-app")
    try:
        member.wait_assigned()
        operation = _wait_final(resets.request_operation(
            cluster=cluster, group_id=group, kind=Operation.Kind.RESET, plan=resets.plan_rows(preview.plan),
            reason="test", actor="tester", strategy="to-latest"))
    finally:
        member.stop()
    assert operation.status == "failed"
    assert "live-app" in operation.error and "Nothing was written" in operation.error
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 40}


def test_drift_between_preview_and_run_is_refused(celery_worker, cluster, kafka_bootstrap, lagging_group):
    topic, group = lagging_group
    preview = resets.preview_reset(client_for(cluster), group, "to-earliest")
    kt.commit(kafka_bootstrap, group, {(topic, 0): 33})  # someone moves the group after the preview
    operation = _wait_final(resets.request_operation(
        cluster=cluster, group_id=group, kind=Operation.Kind.RESET, plan=resets.plan_rows(preview.plan),
        reason="test", actor="tester", strategy="to-earliest"))
    assert operation.status == "failed"
    assert f"{topic}-0 was 30 at preview, now 33" in operation.error
    assert _committed(cluster, group) == {TP(topic, 0): 33, TP(topic, 1): 40}
