"""Resets of a share group's start offsets: previews equal `kafka-share-groups --reset-offsets --dry-run`,
a reset run by the real worker is read back by the tool and undone, and an active share group is refused
with nothing changed."""

from __future__ import annotations

import time

import pytest

from groups.kafka import ShareClient, client_for, share_client_for
from groups.models import AuditEvent, Operation
from groups.operations import lifecycle, resets, share_resets
from localkafka.broker import run_tool
from tests import kafkatools as kt
from tests.operations import wait_final

pytestmark = [pytest.mark.integration]

HOUR_MS = 3_600_000


def _dry_run(bootstrap: str, group: str, *args: str) -> dict[tuple[str, int], int]:
    return kt.tool_reset_plan(bootstrap, "share-groups", group, *args)


def _described_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], str]:
    tool = run_tool("share-groups", ["--describe", "--offsets", "--group", group], bootstrap)
    assert tool.returncode == 0, tool.stderr
    rows = [line.split() for line in tool.stdout.splitlines() if line.split()[:1] == [group]]
    return {(topic, int(partition)): start for _, topic, partition, start, _lag in rows}


@pytest.fixture
def idle_share_group(kafka_bootstrap, unique):
    """An Empty share group that read a 2-partition topic whose records are two hours, then one hour old
    (10 and 6 records), and whose partition 0 lost its first 3 records to retention since."""
    topic, group = unique("share-reset"), unique("share-reset-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.start_share_group_at_earliest(kafka_bootstrap, group)
    now_ms = int(time.time() * 1000)
    kt.produce(kafka_bootstrap, topic, {0: 5, 1: 3}, timestamp_ms=now_ms - 2 * HOUR_MS)
    kt.produce(kafka_bootstrap, topic, {0: 5, 1: 3}, timestamp_ms=now_ms - HOUR_MS)
    reader = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="reader")
    try:
        kt.wait_for(lambda: reader.received == 16, timeout=60, what="the reader to get all 16 records")
    finally:
        reader.stop()
    share = ShareClient({"bootstrap.servers": kafka_bootstrap}, 10)
    kt.wait_for(lambda: share.describe(group).state == "Empty", what="the share group to be Empty")
    kt.delete_records(kafka_bootstrap, topic, 0, before=3)
    return {"topic": topic, "group": group, "share": share, "now_ms": now_ms}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("strategy", "minutes_from_now", "expected"),
    [
        ("to-earliest", None, {0: 3, 1: 0}),
        ("to-latest", None, {0: 10, 1: 6}),
        # The first record stamped at or after 90 minutes ago opens the second batch.
        ("to-datetime", -90, {0: 5, 1: 3}),
        # No record is stamped an hour from now: the log end, as the tool falls back.
        ("to-datetime", 60, {0: 10, 1: 6}),
    ],
)
def test_previews_equal_kafka_share_groups_reset_offsets_dry_run(
    cluster, kafka_bootstrap, idle_share_group, strategy, minutes_from_now, expected
):
    topic, group = idle_share_group["topic"], idle_share_group["group"]
    value, tool_args = "", [f"--{strategy}"]
    if minutes_from_now is not None:
        at_ms = idle_share_group["now_ms"] + minutes_from_now * 60_000
        value = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime(at_ms / 1000))
        tool_args.append(value)
    for scope, scope_args in (("", ["--all-topics"]), (f"{topic}:1", ["--topic", f"{topic}:1"])):
        preview = share_resets.preview_share_reset(
            share_client_for(cluster), client_for(cluster), group, strategy, value, scope
        )
        planned = {(row.topic, row.partition): row.after for row in preview.plan.rows}
        assert planned == _dry_run(kafka_bootstrap, group, *tool_args, *scope_args), scope
        assert planned == {(topic, p): offset for p, offset in expected.items() if not scope or p == 1}
        assert preview.blocked_reason is None


def test_a_share_reset_is_run_by_the_worker_read_back_by_kafka_share_groups_and_undone(
    celery_worker, operator_client, cluster, kafka_bootstrap, idle_share_group
):
    topic, group = idle_share_group["topic"], idle_share_group["group"]
    before = _described_offsets(kafka_bootstrap, group)
    preview = operator_client.post(
        f"/clusters/local/share-reset-preview/{group}/", {"strategy": "to-offset", "value": "4", "scope_mode": "all"}
    )
    assert preview.status_code == 200, preview.content.decode()
    assert [(r.partition, r.after, r.clamped) for r in preview.context["plan"].rows] == [
        (0, 4, None),
        (1, 4, None),
    ]
    token = preview.context["confirm"].initial["token"]
    confirmed = operator_client.post(
        f"/clusters/local/share-reset-confirm/{group}/", {"token": token, "reason": "replay the tail"}
    )
    assert confirmed.status_code == 302
    operation = wait_final(Operation.objects.get(group_id=group, kind=Operation.Kind.SHARE_RESET))
    assert operation.status == "succeeded", operation.error
    assert all(o["verified"] for o in operation.outcome)
    assert _described_offsets(kafka_bootstrap, group) == {(topic, 0): "4", (topic, 1): "4"}
    actions = list(AuditEvent.objects.filter(operation=operation).order_by("id").values_list("action", flat=True))
    assert actions == ["requested", "started", "succeeded"]
    page = operator_client.get(f"/operations/{operation.pk}/").content.decode()
    assert "Start offset before" in page and f"/clusters/local/share-reset/{group}/?undo={operation.pk}" in page

    undo_preview = operator_client.get(f"/clusters/local/share-reset/{group}/?undo={operation.pk}")
    assert undo_preview.status_code == 200, undo_preview.content.decode()
    undo_token = undo_preview.context["confirm"].initial["token"]
    operator_client.post(f"/clusters/local/share-reset-confirm/{group}/", {"token": undo_token, "reason": "undo"})
    undo = wait_final(Operation.objects.get(undo_of=operation))
    assert undo.status == "succeeded", undo.error
    # Back where the reset found them, except below the log start (retention took offsets 0-2 of
    # partition 0): there the undo is clamped to it, as every plan is, and says so.
    restored = max(int(before[(topic, 0)]), 3)
    assert _described_offsets(kafka_bootstrap, group) == {(topic, 0): str(restored), (topic, 1): before[(topic, 1)]}
    clamped = [row["clamped"] for row in undo.plan if row["partition"] == 0]
    assert clamped == (
        [f"earlier offset {before[(topic, 0)]} is below the log start 3"] if int(before[(topic, 0)]) < 3 else [None]
    )


@pytest.mark.django_db(transaction=True)
def test_resetting_an_active_share_group_is_refused_at_preview_and_by_the_worker_with_nothing_changed(
    operator_client, cluster, kafka_bootstrap, idle_share_group, use_test_redis
):
    topic, group, share = idle_share_group["topic"], idle_share_group["group"], idle_share_group["share"]
    planned_while_empty = share_resets.preview_share_reset(
        share_client_for(cluster), client_for(cluster), group, "to-earliest"
    )
    before = _described_offsets(kafka_bootstrap, group)
    member = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="still-reading")
    try:
        kt.wait_for(lambda: share.describe(group).state == "Stable", what="the share group to be active")
        preview = operator_client.post(
            f"/clusters/local/share-reset-preview/{group}/", {"strategy": "to-earliest", "scope_mode": "all"}
        )
        body = preview.content.decode()
        assert preview.status_code == 200 and preview.context["confirm"] is None
        assert "Resetting an active share group is refused" in body and "still-reading" in body
        assert "Stop its share consumers, then preview again." in body

        operation = share_resets.request_share_reset(
            cluster=cluster,
            group_id=group,
            plan=resets.plan_rows(planned_while_empty.plan),
            reason="planned before the consumer came back",
            actor="tester",
            strategy="to-earliest",
            dispatch=False,
        )
        lifecycle.execute(operation.pk)
    finally:
        member.stop()
    operation.refresh_from_db()
    assert operation.status == "failed"
    assert operation.error.startswith(f"Resetting an active share group is refused: '{group}' is Stable")
    assert "Nothing was written." in operation.error
    assert _described_offsets(kafka_bootstrap, group) == before


@pytest.mark.django_db
def test_on_a_cluster_requiring_approval_a_share_reset_is_reviewed_against_the_share_group_now(
    cluster, make_user, kafka_bootstrap, idle_share_group
):
    from django.test import Client

    topic, group, share = idle_share_group["topic"], idle_share_group["group"], idle_share_group["share"]
    cluster.require_approval = True
    cluster.save()
    operator, approver = Client(), Client()
    operator.force_login(make_user("operator", "Operator"))
    approver.force_login(make_user("approver", "Approver"))
    preview = operator.post(
        f"/clusters/local/share-reset-preview/{group}/", {"strategy": "to-latest", "scope_mode": "all"}
    )
    assert "Request approval" in preview.content.decode()
    token = preview.context["confirm"].initial["token"]
    operator.post(f"/clusters/local/share-reset-confirm/{group}/", {"token": token, "reason": "skip the backlog"})
    operation = Operation.objects.get(group_id=group, kind=Operation.Kind.SHARE_RESET)
    assert operation.status == "awaiting_approval"

    page = approver.get(f"/operations/{operation.pk}/").content.decode()
    assert 'id="review-current"' in page and 'id="decision-form"' in page
    # A share group has start offsets: the request is reviewed in its words, not a consumer group's.
    assert "The group's start offsets are those the request found" in page
    assert "Start offset at request</th>" in page and "Start offset now</th>" in page
    assert "committed" not in page.lower()

    member = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="came-back")
    try:
        kt.wait_for(lambda: share.describe(group).state == "Stable", what="the share group to be active")
        blocked = approver.get(f"/operations/{operation.pk}/").content.decode()
        assert 'id="approval-blocked"' in blocked and "Resetting an active share group is refused" in blocked
        refused = approver.post(f"/operations/{operation.pk}/approve/", {"comment": "go"})
        assert refused.status_code == 409
    finally:
        member.stop()
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval"
