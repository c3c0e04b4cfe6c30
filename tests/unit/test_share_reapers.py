"""The reaper fails share resets and share-group deletions whose worker went silent, as it does resets:
with words that say what to check, an audit event, and nothing done to operations still reporting."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from groups.models import AuditEvent, Cluster, Operation
from groups.operations import lifecycle


def _running(cluster: Cluster, kind: str, group: str, silent_for: timedelta) -> Operation:
    return Operation.objects.create(
        kind=kind,
        cluster=cluster,
        group_id=group,
        plan=[],
        reason="worker vanished",
        status=Operation.Status.RUNNING,
        heartbeat=timezone.now() - silent_for,
    )


@pytest.mark.django_db
def test_share_resets_and_share_group_deletions_whose_worker_vanished_are_failed_with_what_to_check():
    cluster = Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")
    silent = timedelta(seconds=settings.OPERATION_STALE_AFTER + 60)
    reset = _running(cluster, Operation.Kind.SHARE_RESET, "share-a", silent)
    deletion = _running(cluster, Operation.Kind.SHARE_DELETE, "share-b", silent)
    reporting = _running(cluster, Operation.Kind.SHARE_RESET, "share-c", timedelta(seconds=1))

    assert sorted(lifecycle.reap()) == sorted([reset.pk, deletion.pk])

    for operation, words in ((reset, "start offsets"), (deletion, "still exists")):
        operation.refresh_from_db()
        assert operation.status == Operation.Status.FAILED
        assert "stopped without reporting back" in operation.error and words in operation.error
        event = AuditEvent.objects.get(operation=operation, action=Operation.Status.FAILED)
        assert event.actor == "worker" and words in event.error
    reporting.refresh_from_db()
    assert reporting.status == Operation.Status.RUNNING
    assert not AuditEvent.objects.filter(operation=reporting).exists()
    # A second pass finds nothing left to fail.
    assert lifecycle.reap() == []
