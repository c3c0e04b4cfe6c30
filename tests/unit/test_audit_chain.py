"""The audit log's hash chain: `verify_audit` passes an intact log and names the row someone tampered with."""

import inspect
import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from groups import audit
from groups.models import AuditEvent, Cluster, Operation
from groups.operations import resets

pytestmark = pytest.mark.django_db

TABLE = connection.ops.quote_name(AuditEvent._meta.db_table)


def _record(count: int) -> list[AuditEvent]:
    return [
        audit.record(
            "requested",
            actor=f"user{i}",
            cluster="prod",
            group_id=f"group-{i}",
            reason=f"reason {i}",
            outcome="pending",
        )
        for i in range(count)
    ]


def _chained(ids: list[int], prev_hash: str = audit.GENESIS) -> list[AuditEvent]:
    """Valid events with the given ids (unsaved), hashed as `audit.record` would hash them."""
    start = timezone.now()
    events = []
    for n, pk in enumerate(ids):
        event = AuditEvent(
            id=pk,
            time=start + timedelta(seconds=n),
            actor="alice",
            action="requested",
            cluster="prod",
            group_id="orders",
            reason=f"event {pk}",
            prev_hash=prev_hash,
        )
        event.hash = audit._digest(audit._content(event))
        prev_hash = event.hash
        events.append(event)
    return events


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _raw_insert(event: AuditEvent) -> None:
    fields = AuditEvent._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
    _sql(f"INSERT INTO {TABLE} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})", values)


def _verify(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def _failure(*args: str) -> tuple[int, str]:
    """The event id `verify_audit` names and its whole message."""
    with pytest.raises(CommandError) as failure:
        _verify(*args)
    message = str(failure.value)
    named = re.search(r"event #(\d+) \(", message)
    assert named, message
    return int(named.group(1)), message


def test_an_intact_chain_passes_with_its_count_and_last_hash():
    events = _record(3)
    assert _verify().strip() == f"Audit log intact: 3 events, last hash {events[-1].hash}"


def test_an_empty_log_is_intact():
    assert _verify().strip() == f"Audit log intact: 0 events, last hash {audit.GENESIS}"


def test_a_reason_changed_behind_the_apps_back_is_named_as_altered():
    events = _record(4)
    _sql(f"UPDATE {TABLE} SET reason = %s WHERE id = %s", ["nothing to see", events[1].id])
    named, message = _failure()
    assert named == events[1].id
    assert "altered" in message and "requested by user1" in message


def test_a_row_altered_and_rehashed_is_named_by_the_next_rows_link():
    events = _record(4)
    tampered = AuditEvent.objects.get(pk=events[1].id)
    tampered.reason = "nothing to see"
    _sql(
        f"UPDATE {TABLE} SET reason = %s, hash = %s WHERE id = %s",
        [tampered.reason, audit._digest(audit._content(tampered)), tampered.id],
    )
    named, message = _failure()
    assert named == events[1].id
    assert f"event #{events[2].id} after it links to a different hash" in message


def test_a_deleted_row_is_named_with_the_gap_it_left():
    events = _record(4)
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[1].id])
    named, message = _failure()
    assert named == events[2].id
    assert f"event #{events[1].id}, between #{events[0].id} and it, was removed" in message


def test_deleting_the_first_row_is_caught():
    events = _record(3)
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[0].id])
    named, message = _failure()
    assert named == events[1].id
    assert "removed" in message


def test_a_row_inserted_with_a_well_forged_hash_is_named():
    chain = AuditEvent.objects.bulk_create(_chained([10, 20, 30]))
    forged = _chained([25], prev_hash=chain[1].hash)[0]
    forged.reason = "approved by nobody"
    forged.hash = audit._digest(audit._content(forged))
    _raw_insert(forged)
    named, message = _failure()
    assert named == 25
    assert "inserted: event #30 links past it to event #20" in message


def test_a_row_inserted_with_a_made_up_hash_is_named():
    chain = AuditEvent.objects.bulk_create(_chained([10, 20, 30]))
    forged = _chained([15], prev_hash=chain[0].hash)[0]
    forged.hash = "f" * 64
    _raw_insert(forged)
    named, message = _failure()
    assert named == 15
    assert "inserted" in message


def test_rewriting_every_hash_after_a_row_is_caught_by_the_last_known_hash():
    events = _record(3)
    last_known = _verify().split("last hash ")[1].strip()
    rewritten = [AuditEvent.objects.get(pk=e.id) for e in events]
    rewritten[1].reason = "nothing to see"
    for previous, event in zip(rewritten, rewritten[1:]):
        event.prev_hash = previous.hash
        event.hash = audit._digest(audit._content(event))
        _sql(
            f"UPDATE {TABLE} SET reason = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [event.reason, event.prev_hash, event.hash, event.id],
        )

    assert "intact" in _verify()
    with pytest.raises(CommandError, match=f"no event has the hash {last_known}"):
        _verify("--last-known", last_known)


def test_removing_the_newest_rows_is_caught_by_the_last_known_hash():
    events = _record(3)
    last_known = events[-1].hash
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[-1].id])
    with pytest.raises(CommandError, match="newest events were removed"):
        _verify("--last-known", last_known)
    assert "intact: 2 events" in _verify("--last-known", events[1].hash)


def test_the_app_cannot_change_or_delete_an_event():
    event = _record(1)[0]
    event.reason = "changed"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    # A queryset's update() and delete() skip the model's save() and delete(), so they must refuse too.
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(reason="changed")
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "reason 0"
    assert "intact: 1 events" in _verify()


def test_the_audit_writer_takes_no_client_configuration():
    parameters = inspect.signature(audit.record).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    assert not [name for name in parameters if re.search("config|secret|password|client|cluster_row", name)]


def test_a_clusters_sasl_password_never_enters_an_event(monkeypatch):
    secret = "s3cr3t-Pa55word-do-not-log"
    monkeypatch.setenv("AUDIT_TEST_SASL_PASSWORD", secret)
    cluster = Cluster.objects.create(
        name="secure",
        bootstrap_servers="broker:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="console",
        secret_ref="env:AUDIT_TEST_SASL_PASSWORD",
    )
    assert cluster.client_config()["sasl.password"] == secret
    plan = [
        {
            "topic": "payments",
            "partition": 0,
            "before": 10,
            "after": 0,
            "log_start": 0,
            "log_end": 50,
            "clamped": "",
            "note": "",
        }
    ]
    operation = resets.request_operation(
        cluster=cluster,
        group_id="payments-eu",
        kind=Operation.Kind.RESET,
        plan=plan,
        reason="replay after the fix",
        actor="alice",
        source_ip="10.0.0.7",
        strategy="to-earliest",
        dispatch=False,
    )
    audit.record("started", actor="worker", operation=operation, outcome="running")
    audit.record("failed", actor="worker", operation=operation, outcome="failed", error="broker unreachable")

    events = AuditEvent.objects.order_by("id")
    assert [e.action for e in events] == ["requested", "started", "failed"]
    assert {e.cluster for e in events} == {"secure"}
    dumped = io.StringIO()
    call_command("dumpdata", "groups.auditevent", stdout=dumped)
    exported = json.dumps([{**audit.export_fields(e), "plan": e.plan} for e in events])
    for serialized in (dumped.getvalue(), exported):
        assert secret not in serialized
