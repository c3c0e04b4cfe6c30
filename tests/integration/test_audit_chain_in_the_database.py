"""The audit chain as the database stores it (these run on SQLite and on PostgreSQL).

What is hashed must come back from the database exactly (PostgreSQL keeps JSON as jsonb and addresses as
inet); and web processes and workers all append at once, while on PostgreSQL each statement sees only
what was committed when it started, so appending must wait for the writer before it.
"""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from groups import audit
from groups.models import AuditEvent

WRITERS = 4
EVENTS_EACH = 15


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_every_field_comes_back_from_the_database_as_it_was_hashed(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = tmp_path
    plan = [
        {
            "topic": "paiements-€",
            "partition": 0,
            "before": 2**40,
            "after": 0,
            "log_start": 0,
            "log_end": 2**40 + 7,
            "clamped": "",
            "note": 'zéro "quoted" \u2028',
        },
        {"topic": "a", "partition": 1, "before": None, "after": -1, "nested": {"z": 1, "a": [1.5, True]}},
    ]
    for source_ip in ("10.0.0.7", "2001:db8::1", None):
        audit.record(
            "requested",
            actor="alice",
            cluster="prod",
            group_id="orders-é",
            reason="why: ünïcode ✓",
            plan=plan,
            outcome="pending",
            error="",
            source_ip=source_ip,
        )
    stored = list(AuditEvent.objects.order_by("id"))
    assert [audit.hash_matches(event) for event in stored] == [True, True, True]
    assert "intact: 3 events" in _verify()


@pytest.mark.django_db(transaction=True)
def test_events_written_at_once_through_several_connections_form_one_chain(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = tmp_path
    together = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            together.wait(timeout=30)
            for n in range(EVENTS_EACH):
                audit.record("login", actor=f"writer{writer}", reason=f"event {n}", outcome="succeeded")
        except BaseException as error:  # reported by the test thread below
            errors.append(error)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert AuditEvent.objects.count() == WRITERS * EVENTS_EACH
    assert f"intact: {WRITERS * EVENTS_EACH} events" in _verify()
