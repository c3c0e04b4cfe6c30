"""The audit log's hash chain: `verify_audit` passes an intact log and names the row someone tampered with."""

import hashlib
import hmac
import inspect
import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
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


def _chained(ids: list[int], prev_hash: str = audit.GENESIS, key_id: str = audit.LEGACY_KEY_ID) -> list[AuditEvent]:
    """Valid events with the given ids (unsaved), hashed as `audit.record` would hash them with key_id
    (by default unkeyed, as events were hashed before the chain was keyed)."""
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
            key_id=key_id,
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


# Keys, forgeries and checkpoints. The default key is the development placeholder (id "dev"); tests
# configure their own where the key matters.

KEY_1 = "k1-" + "a" * 40
KEY_2 = "k2-" + "b" * 40


@pytest.fixture(autouse=True)
def checkpoint_dir(settings, tmp_path):
    """Checkpoints of this test's own: never a developer's (of another database) in the checkout."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    return settings.AUDIT_CHECKPOINT_DIR


def _forged(pk: int, prev_hash: str, key_id: str = "dev") -> AuditEvent:
    """An event linked to prev_hash and hashed with a key id the console knows but a secret it does not."""
    event = _chained([pk], prev_hash=prev_hash, key_id=key_id)[0]
    with override_settings(AUDIT_HMAC_KEYS={key_id: "a guess at the secret, long enough to pass"}):
        event.hash = audit._digest(audit._content(event))
    return event


def _checkpoint() -> str:
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    return out.getvalue()


def test_new_events_are_keyed_with_the_newest_key_and_name_it(settings):
    settings.AUDIT_HMAC_KEYS = {"2024": KEY_1, "2025": KEY_2}
    event = _record(1)[0]
    assert event.key_id == "2025"
    content = json.dumps(audit._content(event), sort_keys=True, separators=(",", ":"), default=str).encode()
    assert event.hash == hmac.new(KEY_2.encode(), content, hashlib.sha256).hexdigest()
    assert "intact: 1 events" in _verify()


def test_after_a_key_rotation_the_events_of_the_old_key_still_verify(settings):
    settings.AUDIT_HMAC_KEYS = {"2024": KEY_1}
    old = _record(2)
    settings.AUDIT_HMAC_KEYS = {"2024": KEY_1, "2025": KEY_2}
    new = _record(2)
    assert [e.key_id for e in old + new] == ["2024", "2024", "2025", "2025"]
    assert "intact: 4 events" in _verify()


def test_an_event_of_a_key_no_longer_configured_is_named_with_what_to_do(settings):
    settings.AUDIT_HMAC_KEYS = {"2024": KEY_1}
    events = _record(2)
    settings.AUDIT_HMAC_KEYS = {"2025": KEY_2}
    named, message = _failure()
    assert named == events[0].id
    assert "the audit key '2024', which is not configured" in message and "add it back" in message


def test_events_hashed_before_keys_existed_still_verify_and_keyed_ones_follow_them():
    legacy = AuditEvent.objects.bulk_create(_chained([1, 2, 3]))
    assert {e.key_id for e in AuditEvent.objects.all()} == {audit.LEGACY_KEY_ID}
    keyed = _record(2)
    assert keyed[0].prev_hash == legacy[-1].hash and keyed[0].key_id == "dev"
    assert "intact: 5 events" in _verify()


def test_an_unkeyed_event_after_keyed_ones_is_named_as_forged():
    events = _record(2)
    forged = _chained([events[-1].id + 1], prev_hash=events[-1].hash)[0]
    _raw_insert(forged)
    named, message = _failure()
    assert named == forged.id
    assert f"unkeyed hash, yet event #{events[0].id} before it is keyed" in message and "forged" in message


def test_a_forged_event_appended_after_the_head_is_named_though_it_links_correctly():
    events = _record(3)
    forged = _forged(events[-1].id + 1, prev_hash=events[-1].hash)
    _raw_insert(forged)
    named, message = _failure()
    assert named == forged.id
    assert "not the keyed hash of its content" in message and "forged without the audit key" in message


def test_forged_events_after_the_checkpointed_head_are_named_with_that_head():
    events = _record(3)
    _checkpoint()
    genuine = _record(1)[0]
    forged = [_forged(genuine.id + 1, prev_hash=genuine.hash)]
    forged.append(_forged(genuine.id + 2, prev_hash=forged[0].hash))
    for event in forged:
        _raw_insert(event)
    named, message = _failure()
    assert named == forged[0].id
    assert f"after the head #{events[-1].id} of the checkpoint of" in message


def test_a_forged_event_at_the_end_linking_to_the_start_is_blamed_not_the_first_event():
    events = _record(3)
    forged = _forged(events[-1].id + 1, prev_hash=audit.GENESIS)
    _raw_insert(forged)
    named, message = _failure()
    assert named == forged.id != events[0].id
    assert f"it links to the start of the chain, not to event #{events[-1].id}" in message


def test_an_event_inserted_before_the_first_is_named():
    chain = AuditEvent.objects.bulk_create(_chained([10, 20, 30], key_id="dev"))
    _raw_insert(_forged(5, prev_hash=audit.GENESIS))
    named, message = _failure()
    assert named == 5
    assert f"inserted: event #{chain[0].id} after it links past it to the start of the chain" in message


def test_a_keyed_event_inserted_in_the_middle_is_named():
    chain = AuditEvent.objects.bulk_create(_chained([10, 20, 30], key_id="dev"))
    assert "intact: 3 events" in _verify()
    _raw_insert(_forged(25, prev_hash=chain[1].hash))
    named, message = _failure()
    assert named == 25
    assert "inserted: event #30 after it links past it to event #20" in message


def test_a_truncated_log_is_named_by_the_checkpoints_head():
    events = _record(5)
    _checkpoint()
    _sql(f"DELETE FROM {TABLE} WHERE id >= %s", [events[3].id])
    named, message = _failure()
    assert named == events[4].id
    assert "no longer in the log" in message and f"the log now ends at event #{events[2].id}" in message
    assert "truncated" in message


def test_a_log_emptied_after_a_checkpoint_is_named_as_truncated():
    events = _record(2)
    _checkpoint()
    _sql(f"DELETE FROM {TABLE}", [])
    named, message = _failure()
    assert named == events[-1].id and "the log is now empty" in message


def test_a_head_rewritten_by_someone_with_the_key_is_caught_by_the_checkpoint():
    events = _record(3)
    _checkpoint()
    head = AuditEvent.objects.get(pk=events[-1].id)
    head.reason = "nothing to see"
    _sql(
        f"UPDATE {TABLE} SET reason = %s, hash = %s WHERE id = %s",
        [head.reason, audit._digest(audit._content(head)), head.id],
    )
    named, message = _failure()
    assert named == head.id
    assert "not the one the checkpoint of" in message and "re-hashed by someone holding the audit key" in message


def test_verify_says_which_checkpoint_the_log_agrees_with():
    events = _record(2)
    written = _checkpoint()
    _record(1)
    lines = _verify().splitlines()
    assert lines[0].startswith("Audit log intact: 3 events")
    assert "agrees with the latest checkpoint, audit-checkpoint-" in lines[1]
    assert f"event #{events[-1].id} was the head" in lines[1] and "Checkpoint written" in written


def test_the_checkpoint_is_a_signed_file_written_only_when_the_head_moves(checkpoint_dir):
    assert "empty: nothing to checkpoint" in _checkpoint()
    events = _record(2)
    assert f"head event #{events[-1].id}, 2 events" in _checkpoint()
    assert f"still event #{events[-1].id}" in _checkpoint()
    _record(1)
    _checkpoint()
    files = sorted(checkpoint_dir.glob("audit-checkpoint-*.json"))
    assert len(files) == 2
    latest = json.loads(files[-1].read_text())
    assert set(latest) == {"kind", "time", "head_id", "head_hash", "count", "key_id", "signature"}
    assert (latest["count"], latest["key_id"]) == (3, "dev")
    assert latest["head_hash"] == AuditEvent.objects.order_by("-id").first().hash


def test_a_checkpoint_file_edited_to_match_a_truncated_log_is_refused(checkpoint_dir):
    events = _record(3)
    _checkpoint()
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[-1].id])
    path = next(checkpoint_dir.glob("audit-checkpoint-*.json"))
    content = json.loads(path.read_text())
    path.write_text(json.dumps({**content, "head_id": events[1].id, "head_hash": events[1].hash, "count": 2}))
    with pytest.raises(CommandError, match="signature of .* does not match its content: it was altered or forged"):
        _verify()


def test_no_checkpoint_is_signed_over_a_tampered_log(checkpoint_dir):
    events = _record(3)
    _sql(f"UPDATE {TABLE} SET reason = %s WHERE id = %s", ["nothing to see", events[1].id])
    with pytest.raises(CommandError, match=f"no checkpoint was signed: event #{events[1].id} .*altered"):
        _checkpoint()
    assert not list(checkpoint_dir.glob("*"))


def test_the_beat_task_writes_a_checkpoint_on_the_configured_schedule(settings, checkpoint_dir):
    from groups import tasks

    event = _record(1)[0]
    assert tasks.write_audit_checkpoint() == event.id
    assert len(list(checkpoint_dir.glob("audit-checkpoint-*.json"))) == 1
    schedule = settings.CELERY_BEAT_SCHEDULE["write-audit-checkpoint"]
    assert schedule == {
        "task": "groups.tasks.write_audit_checkpoint",
        "schedule": float(settings.AUDIT_CHECKPOINT_INTERVAL),
    }


def test_without_a_checkpoint_verify_passes_and_says_what_it_cannot_see():
    _record(1)
    err = io.StringIO()
    call_command("verify_audit", stdout=io.StringIO(), stderr=err)
    assert "No audit checkpoint in" in err.getvalue() and "audit_checkpoint" in err.getvalue()


@pytest.fixture
def hash_not_unique(transactional_db):
    """The audit table without its unique index on the hash, as a DBA who wants to copy rows would make it."""
    original = AuditEvent._meta.get_field("hash")
    relaxed = original.clone()
    relaxed.set_attributes_from_name("hash")
    relaxed.model, relaxed._unique = AuditEvent, False
    with connection.schema_editor() as editor:
        editor.alter_field(AuditEvent, original, relaxed)
    yield
    _sql(f"DELETE FROM {TABLE}", [])  # the copies would break the index
    with connection.schema_editor() as editor:
        editor.alter_field(AuditEvent, relaxed, original)


def test_a_genuine_event_copied_to_the_end_is_named_as_the_copy(hash_not_unique):
    events = _record(3)
    copy = AuditEvent.objects.get(pk=events[0].id)
    copy.id = events[-1].id + 1
    _raw_insert(copy)
    named, message = _failure()
    assert named == copy.id
    assert f"it repeats event #{events[0].id} (the same content and hash): it was copied" in message
