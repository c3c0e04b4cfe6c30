"""Events written at the same moment through several database connections still form one chain.

Web processes and workers all append to the audit log; on PostgreSQL each statement of a transaction sees
what was committed when it started, so appending must wait for the writer before it, not just read the
newest row.
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
    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())
    assert f"intact: {WRITERS * EVENTS_EACH} events" in out.getvalue()
