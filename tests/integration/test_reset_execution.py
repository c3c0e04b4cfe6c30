"""Resets carried out by a real Celery worker against the real broker."""

import pytest

from groups.kafka import TP, client_for
from groups.models import AuditEvent, Operation
from groups.operations import lifecycle, resets
from tests import kafkatools as kt
from tests.operations import wait_final

pytestmark = pytest.mark.integration


def _request(cluster, group, kind, value="", scope="", **kw):
    preview = resets.preview_reset(client_for(cluster), group, kind, value, scope, undo_of=kw.get("undo_of"))
    return resets.request_operation(
        cluster=cluster,
        group_id=group,
        kind=Operation.Kind.RESET,
        plan=resets.plan_rows(preview.plan),
        reason="test",
        actor="tester",
        strategy=kind,
        strategy_value=value,
        scope=scope,
        **kw,
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
    operation = wait_final(_request(cluster, group, "to-earliest"))
    assert operation.status == "succeeded", operation.error
    assert _committed(cluster, group) == {TP(topic, 0): 0, TP(topic, 1): 0}
    assert all(o["verified"] for o in operation.outcome)
    actions = list(AuditEvent.objects.filter(operation=operation).order_by("id").values_list("action", flat=True))
    assert actions == ["requested", "started", "succeeded"]


def test_undo_restores_the_exact_before_offsets(celery_worker, cluster, lagging_group):
    topic, group = lagging_group
    first = wait_final(_request(cluster, group, "shift-by", "-25"))
    assert first.status == "succeeded", first.error
    assert _committed(cluster, group) == {TP(topic, 0): 5, TP(topic, 1): 15}
    undo = wait_final(_request(cluster, group, "undo", undo_of=first))
    assert undo.status == "succeeded", undo.error
    assert undo.undo_of == first
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 40}


def test_an_active_group_is_refused_and_nothing_is_written(celery_worker, cluster, kafka_bootstrap, lagging_group):
    topic, group = lagging_group
    preview = resets.preview_reset(client_for(cluster), group, "to-latest")  # while the group is Empty
    member = kt.Member(kafka_bootstrap, group, [topic], client_id="live-app")
    try:
        member.wait_assigned()
        operation = wait_final(
            resets.request_operation(
                cluster=cluster,
                group_id=group,
                kind=Operation.Kind.RESET,
                plan=resets.plan_rows(preview.plan),
                reason="test",
                actor="tester",
                strategy="to-latest",
            )
        )
    finally:
        member.stop()
    assert operation.status == "failed"
    assert "live-app" in operation.error and "Nothing was written" in operation.error
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 40}


def test_drift_between_preview_and_run_is_refused(celery_worker, cluster, kafka_bootstrap, lagging_group):
    topic, group = lagging_group
    preview = resets.preview_reset(client_for(cluster), group, "to-earliest")
    kt.commit(kafka_bootstrap, group, {(topic, 0): 33})  # someone moves the group after the preview
    operation = wait_final(
        resets.request_operation(
            cluster=cluster,
            group_id=group,
            kind=Operation.Kind.RESET,
            plan=resets.plan_rows(preview.plan),
            reason="test",
            actor="tester",
            strategy="to-earliest",
        )
    )
    assert operation.status == "failed"
    assert f"{topic}-0 was 30 at preview, now 33" in operation.error
    assert _committed(cluster, group) == {TP(topic, 0): 33, TP(topic, 1): 40}


def test_an_operation_refuses_while_another_holds_the_group_lock_and_names_it(
    celery_worker, use_test_redis, cluster, lagging_group
):
    import redis

    topic, group = lagging_group
    preview = resets.preview_reset(client_for(cluster), group, "to-earliest")
    lock = redis.Redis.from_url(use_test_redis).lock(lifecycle.group_lock_name(cluster.pk, group), timeout=60)
    assert lock.acquire(blocking=False, token="4242")
    try:
        operation = wait_final(
            resets.request_operation(
                cluster=cluster,
                group_id=group,
                kind=Operation.Kind.RESET,
                plan=resets.plan_rows(preview.plan),
                reason="test",
                actor="tester",
                strategy="to-earliest",
            )
        )
    finally:
        lock.release()
    assert operation.status == "failed"
    assert "Operation #4242 is running on this group" in operation.error
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 40}


def test_two_operations_started_at_once_on_one_group_apply_exactly_once(celery_worker, cluster, lagging_group):
    topic, group = lagging_group
    rows = resets.plan_rows(resets.preview_reset(client_for(cluster), group, "shift-by", "-10").plan)
    from django.db import transaction

    with transaction.atomic():  # both dispatched in the same instant, after commit
        first, second = (
            resets.request_operation(
                cluster=cluster,
                group_id=group,
                kind=Operation.Kind.RESET,
                plan=rows,
                reason="race",
                actor="tester",
                strategy="shift-by",
                strategy_value="-10",
            )
            for _ in range(2)
        )
    results = sorted((wait_final(first), wait_final(second)), key=lambda o: o.status != "succeeded")
    winner, loser = results
    assert (winner.status, loser.status) == ("succeeded", "failed")
    # Refused by the lock (naming the winner) or, if the winner had already finished, by drift.
    assert f"Operation #{winner.pk} is running" in loser.error or "changed since the preview" in loser.error
    assert _committed(cluster, group) == {TP(topic, 0): 20, TP(topic, 1): 30}


def test_a_worker_killed_mid_operation_leaves_it_failed_and_the_offsets_unchanged(
    celery_worker, cluster, kafka_broker, lagging_group
):
    import os
    import signal
    from datetime import timedelta

    from localkafka import read_pid

    if kafka_broker is None:
        pytest.skip("needs the run's own broker to freeze it")
    topic, group = lagging_group
    rows = resets.plan_rows(resets.preview_reset(client_for(cluster), group, "to-earliest").plan)
    broker_pid = read_pid(kafka_broker.pid_file)
    # A frozen broker keeps the worker inside the operation (waiting on Kafka) until it is killed.
    os.kill(broker_pid, signal.SIGSTOP)
    try:
        operation = resets.request_operation(
            cluster=cluster,
            group_id=group,
            kind=Operation.Kind.RESET,
            plan=rows,
            reason="crash test",
            actor="tester",
            strategy="to-earliest",
        )

        def running():
            operation.refresh_from_db()
            return operation.status == "running"

        kt.wait_for(running, timeout=30, what="the worker to claim the operation")
        celery_worker.kill()
    finally:
        os.kill(broker_pid, signal.SIGCONT)
        celery_worker.start()  # the run's other tests need their worker back
    operation.refresh_from_db()
    assert operation.status == "running"  # nobody reported back: only the reaper can tell

    assert resets.reap_stale_operations(stale_after=timedelta(0)) == [operation.pk]
    operation.refresh_from_db()
    assert operation.status == "failed"
    assert "stopped without reporting back" in operation.error and "unchanged" in operation.error
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 40}


def test_the_reaper_says_when_a_vanished_worker_had_already_applied_the_plan(
    transactional_db, use_test_redis, cluster, kafka_bootstrap, lagging_group
):
    from datetime import timedelta

    from django.utils import timezone

    topic, group = lagging_group
    rows = resets.plan_rows(resets.preview_reset(client_for(cluster), group, "to-earliest").plan)
    operation = Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=cluster,
        group_id=group,
        plan=rows,
        reason="applied then crashed",
        status=Operation.Status.RUNNING,
        heartbeat=timezone.now() - timedelta(hours=1),
    )
    kt.commit(kafka_bootstrap, group, {(topic, 0): 0, (topic, 1): 0})  # what the worker did before dying
    assert resets.reap_stale_operations() == [operation.pk]
    operation.refresh_from_db()
    assert operation.status == "failed" and "equal the plan: the reset was applied" in operation.error


def test_a_preview_past_a_transaction_still_open_says_its_records_would_never_be_read(
    cluster, kafka_bootstrap, lagging_group
):
    from confluent_kafka import Producer

    topic, group = lagging_group
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"{group}-writer"})
    producer.init_transactions()
    producer.begin_transaction()
    producer.produce(topic, partition=0, value=b"in flight")
    producer.produce(topic, partition=0, value=b"in flight too")
    producer.flush(10)
    try:
        latest = resets.preview_reset(client_for(cluster), group, "to-latest")
        (row,) = [r for r in latest.plan.rows if r.partition == 0]
        assert row.after == 52  # the log end, as kafka-consumer-groups --to-latest sets it
        notes = [w for w in latest.plan.warnings if "transaction still open" in w]
        assert notes == [
            f"1 partition is set past the start of a transaction still open ({topic}-0 to 52, open from 50). "
            "The group will never read that transaction's records before the new offset, even if it commits. "
            "To keep them, set those partitions to the offset where the transaction opens (to-offset), or preview "
            "again once it has committed or aborted."
        ]
        # Up to where the transaction opens: nothing to say.
        kept = resets.preview_reset(client_for(cluster), group, "to-offset", "50", f"{topic}:0")
        assert not [w for w in kept.plan.warnings if "transaction" in w]
    finally:
        producer.abort_transaction()
