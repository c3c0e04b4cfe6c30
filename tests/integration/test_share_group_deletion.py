"""Deleting a share group as `kafka-share-groups --delete` does, through the console's request, worker,
audit and rights; an active share group refused with nothing changed; `reset_share_offsets` planning as
`kafka-share-groups --reset-offsets --dry-run` does; and share groups in the main group list."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.core.management import CommandError, call_command
from django.utils.html import escape

from groups.kafka import ShareClient, ShareGroupNotFound
from groups.models import AuditEvent, Operation, SnapshotGroup
from groups.operations import lifecycle, share_deletions
from groups.snapshot import queries
from groups.snapshot.collector import collect
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration]


def _tool_lists(bootstrap: str) -> set[str]:
    result = run_tool("share-groups", ["--list"], bootstrap)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def _empty_share_group(bootstrap: str, topic: str, group: str) -> ShareClient:
    """A share group that read every record of `topic` (2 partitions, 3 + 2 records) and left: Empty."""
    kt.create_topic(bootstrap, topic, 2)
    kt.start_share_group_at_earliest(bootstrap, group)
    kt.produce(bootstrap, topic, {0: 3, 1: 2})
    reader = kt.ShareMember(bootstrap, group, [topic], client_id="reader")
    try:
        kt.wait_for(lambda: reader.received == 5, timeout=60, what="the reader to get all 5 records")
    finally:
        reader.stop()
    share = ShareClient({"bootstrap.servers": bootstrap}, 10)
    kt.wait_for(lambda: share.describe(group).state == "Empty", what="the share group to be Empty")
    return share


def _run(operation: Operation) -> Operation:
    lifecycle.execute(operation.pk)
    operation.refresh_from_db()
    return operation


def test_deleting_an_empty_share_group_removes_it_as_kafka_share_groups_delete_does(
    celery_worker, admin_client, cluster, kafka_bootstrap, unique
):
    topic, group, twin = unique("share-del"), unique("share-del-group"), unique("share-del-twin")
    share = _empty_share_group(kafka_bootstrap, topic, group)
    _empty_share_group(kafka_bootstrap, f"{topic}-twin", twin)

    page = admin_client.get(f"/clusters/local/share-delete/{group}/")
    assert page.status_code == 200 and 'id="delete-form"' in page.content.decode()
    missing_reason = admin_client.post(f"/clusters/local/share-delete/{group}/", {"reason": ""})
    assert missing_reason.status_code == 400
    assert group in _tool_lists(kafka_bootstrap)

    response = admin_client.post(f"/clusters/local/share-delete/{group}/", {"reason": "the app was retired"})
    assert response.status_code == 302
    operation = Operation.objects.get(group_id=group, kind=Operation.Kind.SHARE_DELETE)

    def final() -> bool:
        operation.refresh_from_db()
        return operation.is_final

    kt.wait_for(final, timeout=60, what="the worker to finish the deletion")
    assert operation.status == "succeeded", operation.error
    with pytest.raises(ShareGroupNotFound):
        share.describe(group)

    # Kafka's own tool deletes the twin: both leave the same trace, the group gone from its list.
    deleted = run_tool("share-groups", ["--delete", "--group", twin], kafka_bootstrap)
    assert deleted.returncode == 0 and "was successful" in deleted.stdout, deleted.stdout + deleted.stderr
    listed = _tool_lists(kafka_bootstrap)
    assert group not in listed and twin not in listed
    with pytest.raises(ShareGroupNotFound):
        share.describe(twin)

    actions = list(AuditEvent.objects.filter(operation=operation).order_by("id").values_list("action", flat=True))
    assert actions == ["requested", "started", "succeeded"]
    page = admin_client.get(f"/operations/{operation.pk}/").content.decode()
    assert "the app was retired" in page and "Delete share group" in page
    assert "Delete share group" in admin_client.get("/my/requests/").content.decode()


def test_deleting_an_active_share_group_is_refused_and_changes_nothing(
    transactional_db, use_test_redis, admin_client, cluster, kafka_bootstrap, unique
):
    topic, group = unique("share-del-active"), unique("share-del-active-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    member = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="still-reading")
    share = ShareClient({"bootstrap.servers": kafka_bootstrap}, 10)
    try:
        kt.wait_for(
            lambda: group in _tool_lists(kafka_bootstrap) and share.describe(group).state == "Stable",
            timeout=60,
            what="the share group to be Stable",
        )
        page = admin_client.get(f"/clusters/local/share-delete/{group}/")
        body = page.content.decode()
        assert page.status_code == 200 and 'id="blocked"' in body and 'id="delete-form"' not in body
        assert "Deleting an active share group is refused" in body and "still-reading" in body
        refused = admin_client.post(f"/clusters/local/share-delete/{group}/", {"reason": "try anyway"})
        assert refused.status_code == 409
        assert not Operation.objects.filter(group_id=group).exists()

        # A request that reached the worker (as one approved while the group was Empty would) is refused there.
        operation = _run(
            share_deletions.request_share_deletion(
                cluster=cluster, group_id=group, reason="late", actor="admin", dispatch=False
            )
        )
        assert operation.status == "failed" and "Deleting an active share group is refused" in operation.error
        assert "Nothing was written" in operation.error
        assert share.describe(group).state == "Stable" and group in _tool_lists(kafka_bootstrap)
        # Kafka's tool is refused alike: the coordinator deletes no share group with members.
        tool = run_tool("share-groups", ["--delete", "--group", group], kafka_bootstrap)
        assert "GroupNotEmptyException" in tool.stdout and f"'{group}' is not EMPTY" in tool.stdout, tool.stdout
        assert share.describe(group).state == "Stable"
    finally:
        member.stop()


def test_a_viewer_may_not_delete_a_share_group(viewer_client, cluster, kafka_bootstrap, unique):
    topic, group = unique("share-del-viewer"), unique("share-del-viewer-group")
    _empty_share_group(kafka_bootstrap, topic, group)
    page = viewer_client.get(f"/clusters/local/share-groups/{group}/").content.decode()
    assert 'id="delete-unavailable"' in page and 'id="delete-link"' not in page
    assert viewer_client.post(f"/clusters/local/share-delete/{group}/", {"reason": "no"}).status_code == 403
    assert group in _tool_lists(kafka_bootstrap)


def _tool_dry_run(bootstrap: str, group: str, *args: str) -> dict[tuple[str, int], int]:
    tool = run_tool("share-groups", ["--reset-offsets", "--group", group, *args, "--dry-run"], bootstrap)
    assert tool.returncode == 0 and "Error" not in tool.stdout, tool.stdout + tool.stderr
    rows = [line.split() for line in tool.stdout.splitlines() if line.split()[:1] == [group]]
    return {(topic, int(partition)): int(offset) for _, topic, partition, offset in rows}


def _tool_described(bootstrap: str, group: str) -> dict[tuple[str, int], str]:
    tool = run_tool("share-groups", ["--describe", "--offsets", "--group", group], bootstrap)
    assert tool.returncode == 0, tool.stderr
    rows = [line.split() for line in tool.stdout.splitlines() if line.split()[:1] == [group]]
    return {(topic, int(partition)): start for _, topic, partition, start, _lag in rows}


def test_reset_share_offsets_dry_run_equals_kafka_share_groups_and_execute_is_read_back(
    transactional_db, use_test_redis, cluster, make_user, kafka_bootstrap, unique
):
    topic, group = unique("share-cli"), unique("share-cli-group")
    share = _empty_share_group(kafka_bootstrap, topic, group)
    make_user("operator", "Operator")
    base = ["--cluster", "local", "--group", group, "--as", "operator"]
    for strategy, scope in (("--to-earliest", ["--all-topics"]), ("--to-latest", ["--topic", f"{topic}:1"])):
        out = io.StringIO()
        call_command("reset_share_offsets", *base, strategy, *scope, "--dry-run", "--output", "json", stdout=out)
        planned = {(r["topic"], r["partition"]): r["after"] for r in json.loads(out.getvalue())}
        assert planned == _tool_dry_run(kafka_bootstrap, group, strategy, *scope), strategy
    table = io.StringIO()
    call_command("reset_share_offsets", *base, "--to-earliest", "--all-topics", "--dry-run", stdout=table)
    assert "NEW-OFFSET" in table.getvalue() and "Dry run: nothing was written" in table.getvalue()

    with pytest.raises(CommandError, match="--execute needs --reason"):
        call_command("reset_share_offsets", *base, "--to-earliest", "--all-topics", "--execute")
    executed = io.StringIO()
    call_command(
        "reset_share_offsets",
        *base,
        "--to-offset",
        "1",
        "--all-topics",
        "--execute",
        "--reason",
        "replay",
        stdout=executed,
    )
    assert "succeeded" in executed.getvalue()
    assert _tool_described(kafka_bootstrap, group) == {(topic, 0): "1", (topic, 1): "1"}
    assert {o.tp.partition: o.start_offset for o in share.start_offsets(group)} == {0: 1, 1: 1}
    operation = Operation.objects.get(group_id=group, kind=Operation.Kind.SHARE_RESET)
    assert operation.status == "succeeded" and operation.requested_via == "cli"


def test_share_groups_are_listed_with_the_other_groups_and_filtered_by_type(
    transactional_db, use_test_redis, viewer_client, cluster, kafka_bootstrap, unique
):
    topic, group = unique("share-list"), unique("share-list-group")
    _empty_share_group(kafka_bootstrap, topic, group)
    kt.produce(kafka_bootstrap, topic, {0: 2, 1: 1})  # not delivered yet: the broker counts them as lag
    consumer_group = unique("classic-list-group")
    kt.commit(kafka_bootstrap, consumer_group, {(topic, 0): 1})
    report = collect(cluster)
    assert report.outcome == "collected", report.reason

    shared = viewer_client.get(f"/api/clusters/local/groups/?type=share&q={group}").json()["groups"]
    assert [(g["group"], g["protocol_type"], g["state"]) for g in shared] == [(group, "share", "Empty")]
    tool = run_tool("share-groups", ["--describe", "--offsets", "--group", group], kafka_bootstrap)
    rows = [line.split() for line in tool.stdout.splitlines() if line.split()[:1] == [group]]
    assert len(rows) == shared[0]["partitions"] == 2
    assert shared[0]["lag"] == sum(int(lag) for *_, lag in rows) == 3
    assert viewer_client.get(f"/api/clusters/local/groups/?type=share&q={consumer_group}").json()["groups"] == []
    classic = viewer_client.get(f"/api/clusters/local/groups/?q={consumer_group}").json()["groups"]
    assert [(g["group"], g["protocol_type"]) for g in classic] == [(consumer_group, "classic")]

    page = viewer_client.get(f"/clusters/local/groups/?q={group}").content.decode()
    assert f"/clusters/local/share-groups/{group}/" in page and '<td class="col-type">share</td>' in page


def test_an_unknown_group_type_in_the_filter_is_a_clear_400(
    transactional_db, use_test_redis, viewer_client, cluster, kafka_bootstrap
):
    collect(cluster)
    for url in ("/api/clusters/local/groups/?type=queue", "/clusters/local/groups/?type=queue"):
        response = viewer_client.get(url)
        assert response.status_code == 400, url
        message = "type must be one of classic, consumer, share, streams, not 'queue'"
        text = response.json()["error"] if url.startswith("/api/") else response.content.decode()
        assert (message if url.startswith("/api/") else escape(message)) in text, url


def test_a_share_group_left_with_records_waiting_stops_and_the_consoles_reset_shows_as_reset_not_rewind(
    transactional_db, use_test_redis, settings, viewer_client, cluster, make_user, kafka_bootstrap, unique
):
    """Judged on the position the broker's lag implies: with 3 records waiting and nobody reading, a full
    window of rounds calls the share group STOP; the console's reset to latest then reads as RESET by
    its operation (a position that jumped, which no rule calls a problem), marked on the chart."""
    settings.COLLECT_WINDOW_ROUNDS = 3
    topic, group = unique("share-judged"), unique("share-judged-group")
    _empty_share_group(kafka_bootstrap, topic, group)
    kt.produce(kafka_bootstrap, topic, {0: 3})  # not delivered: the broker counts them as lag
    kt.wait_for_share_lag(kafka_bootstrap, group, 3)

    def collected_row() -> SnapshotGroup:
        report = collect(cluster)
        assert report.outcome == "collected", report.reason
        return queries.group_row(queries.latest_snapshot(cluster).snapshot, group)

    for _ in range(3):
        time.sleep(1)  # rounds at distinct times: the window is full after three
        row = collected_row()
    assert (row.status, row.lag) == ("ERR", 3), row.status_reason
    by_partition = {p.partition: p for p in queries.partition_details(row)}
    assert by_partition[0].status == "STOP" and by_partition[0].status_reason.startswith("No progress ")
    assert "3 messages wait" in by_partition[0].status_reason and by_partition[1].status == "OK"
    assert row.lag_seconds is not None and row.lag_seconds > 0 and row.retention_note

    make_user("operator", "Operator")
    call_command(
        "reset_share_offsets",
        *("--cluster", "local", "--group", group, "--as", "operator", "--to-latest", "--all-topics"),
        *("--execute", "--reason", "skip what waits"),
        stdout=io.StringIO(),
    )
    operation = Operation.objects.get(group_id=group, kind=Operation.Kind.SHARE_RESET)
    assert operation.status == "succeeded"
    reset = collected_row()
    assert (reset.status, reset.operation_id, reset.lag) == ("RESET", operation.pk, 0), reset.status_reason
    assert "REWIND" not in reset.status_reason
    page = viewer_client.get(f"/clusters/local/share-groups/{group}/").content.decode()
    assert f'href="/operations/{operation.pk}/" id="reset-by">Its page</a>' in page
    history = viewer_client.get(f"/api/clusters/local/groups/{group}/history/", {"since": "PT1H"}).json()
    assert history["operations"] == [{"id": operation.pk, "t": history["operations"][0]["t"], "kind": "reset"}]
    assert [p["status"] for p in history["points"]][-2:] == ["ERR", "RESET"]
