"""Deleting a group's committed offsets, against the real broker, the real worker and Kafka's own tool.

The console must leave a group exactly as `kafka-consumer-groups --delete-offsets` leaves its twin,
refuse what Kafka refuses (a subscribed topic) before asking it, and put the offsets back on undo.
"""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from groups.kafka import TP, client_for, offset_deletion
from groups.kafka.consumer_groups import ConsumerGroupClient
from groups.kafka.values import ConsoleError
from groups.models import AuditEvent, Operation
from groups.operations import approvals, lifecycle, offset_deletions, resets
from groups.planning.deletions import NO_OFFSET
from groups.planning.resets import PlanningError
from localkafka.broker import run_tool
from tests import kafkatools as kt
from tests.operations import wait_final

pytestmark = pytest.mark.integration


def _committed(cluster, group) -> dict[TP, int]:
    return client_for(cluster).committed_offsets([group])[group]


def _events(operation: Operation) -> list[str]:
    return list(AuditEvent.objects.filter(operation=operation).order_by("id").values_list("action", flat=True))


def _request(cluster, group, scope, *, dispatch=True, requester=None) -> Operation:
    preview = offset_deletions.preview_deletion(client_for(cluster), group, scope)
    assert preview.blocked_reason is None, preview.blocked_reason
    return offset_deletions.request_deletion(
        cluster=cluster,
        group_id=group,
        plan=offset_deletions.plan_rows(preview.plan),
        scope=scope,
        reason="the app stopped reading these topics",
        actor=requester.username if requester else "tester",
        requester=requester,
        dispatch=dispatch,
    )


def _describe(bootstrap: str, group: str) -> list[tuple[str, ...]]:
    """`kafka-consumer-groups --describe` rows: topic, partition, current offset, log end, lag (members left out,
    since two groups' member ids always differ)."""
    result = run_tool("consumer-groups", ["--describe", "--group", group], bootstrap)
    assert result.returncode == 0 and "Error" not in result.stdout, result.stdout + result.stderr
    rows = []
    for fields in (line.split() for line in result.stdout.splitlines()):
        if len(fields) >= 6 and fields[0] == group:
            rows.append(tuple(fields[1:6]))
    return sorted(rows)


@pytest.fixture
def topics(kafka_bootstrap, unique):
    """Three topics: `read` (2 partitions), `old` (3) and `other` (2), with records on each partition."""
    names = {"read": unique("od-read"), "old": unique("od-old"), "other": unique("od-other")}
    for key, count in (("read", 2), ("old", 3), ("other", 2)):
        kt.create_topic(kafka_bootstrap, names[key], count)
        kt.produce(kafka_bootstrap, names[key], {p: 10 + 5 * p for p in range(count)})
    return names


def _commit_all(bootstrap, group, topics):
    """The same offsets on every group: all of `read`, `old` 0 and 2 (1 never committed), `other` 0 and 1."""
    kt.commit(
        bootstrap,
        group,
        {
            (topics["read"], 0): 4,
            (topics["read"], 1): 9,
            (topics["old"], 0): 3,
            (topics["old"], 2): 11,
            (topics["other"], 0): 2,
            (topics["other"], 1): 15,
        },
    )


def test_the_console_leaves_a_group_as_kafka_consumer_groups_delete_offsets_leaves_its_twin(
    celery_worker, cluster, kafka_bootstrap, topics, unique
):
    """Two groups in the same state, each with a live member reading `read`: the console deletes `old` (whole,
    partition 1 never committed) and `other:1` of one, the tool the same of the other; --describe agrees."""
    ours, theirs = unique("od-console"), unique("od-tool")
    members = []
    for group in (ours, theirs):
        _commit_all(kafka_bootstrap, group, topics)
        members.append(kt.Member(kafka_bootstrap, group, [topics["read"]], client_id="od-live-app"))
    try:
        for member in members:
            member.wait_assigned()
        scope = f"{topics['old']} {topics['other']}:1"
        operation = wait_final(_request(cluster, ours, scope))
        tool = run_tool(
            "consumer-groups",
            ["--delete-offsets", "--group", theirs, "--topic", topics["old"], "--topic", f"{topics['other']}:1"],
            kafka_bootstrap,
        )
        assert "Request succeeded for deleting offsets from group" in tool.stdout, tool.stdout + tool.stderr

        assert operation.status == "succeeded", operation.error
        assert _describe(kafka_bootstrap, ours) == _describe(kafka_bootstrap, theirs)
        assert {(row[0], row[1]) for row in _describe(kafka_bootstrap, ours)} == {
            (topics["read"], "0"),
            (topics["read"], "1"),
            (topics["other"], "0"),
        }
        # The group stayed Stable on the topic it reads: Kafka refuses only the topics it subscribes to.
        assert client_for(cluster).describe_groups([ours])[ours].state == "Stable"
        assert [(o["topic"], o["partition"], o["deleted"], o["verified"]) for o in operation.outcome] == [
            (topics["old"], 0, True, True),
            (topics["old"], 1, True, True),
            (topics["old"], 2, True, True),
            (topics["other"], 1, True, True),
        ]
    finally:
        for member in members:
            member.stop()


def test_deleted_offsets_are_gone_for_the_tool_the_audit_tells_the_story_and_undo_puts_them_back(
    celery_worker, cluster, kafka_bootstrap, topics, unique
):
    group = unique("od-undo")
    _commit_all(kafka_bootstrap, group, topics)
    before = _committed(cluster, group)

    deletion = wait_final(_request(cluster, group, f"{topics['old']}:0,2 {topics['other']}"))
    assert deletion.status == "succeeded", deletion.error
    described = _describe(kafka_bootstrap, group)
    assert {row[0] for row in described} == {topics["read"]}
    assert _events(deletion) == ["requested", "started", "succeeded"]
    requested = AuditEvent.objects.get(operation=deletion, action="requested")
    assert requested.topics == sorted([topics["old"], topics["other"]])
    assert requested.reason == "the app stopped reading these topics"
    assert deletion.can_be_undone

    undo_preview = resets.preview_reset(client_for(cluster), group, "undo", undo_of=deletion)
    assert {(r.topic, r.partition): (r.before, r.after) for r in undo_preview.plan.rows} == {
        (topics["old"], 0): (None, 3),
        (topics["old"], 2): (None, 11),
        (topics["other"], 0): (None, 2),
        (topics["other"], 1): (None, 15),
    }
    undo = resets.request_operation(
        cluster=cluster,
        group_id=group,
        kind=Operation.Kind.RESET,
        plan=resets.plan_rows(undo_preview.plan),
        reason="the app reads them again",
        actor="tester",
        strategy="undo",
        undo_of=deletion,
    )
    assert wait_final(undo).status == "succeeded", undo.error
    assert _committed(cluster, group) == before
    assert _events(undo) == ["undo_requested", "started", "succeeded"]


def test_undo_is_refused_once_a_deleted_partition_has_a_new_commit(celery_worker, cluster, kafka_bootstrap, topics):
    group = f"{topics['old']}-group"
    _commit_all(kafka_bootstrap, group, topics)
    deletion = wait_final(_request(cluster, group, topics["old"]))
    assert deletion.status == "succeeded", deletion.error
    kt.commit(kafka_bootstrap, group, {(topics["old"], 2): 14})

    with pytest.raises(PlanningError, match=rf"{topics['old']}-2 \(deleted 11, now 14\)"):
        resets.preview_reset(client_for(cluster), group, "undo", undo_of=deletion)
    assert _committed(cluster, group)[TP(topics["old"], 2)] == 14


def test_a_topic_a_live_consumer_subscribes_to_is_refused_with_what_to_do_and_nothing_changes(
    cluster, kafka_bootstrap, topics, unique
):
    group = unique("od-subscribed")
    _commit_all(kafka_bootstrap, group, topics)
    before = _committed(cluster, group)
    member = kt.Member(kafka_bootstrap, group, [topics["read"]], client_id="od-live-app")
    try:
        member.wait_assigned()
        preview = offset_deletions.preview_deletion(client_for(cluster), group, f"{topics['read']} {topics['old']}")
        assert preview.blocked_reason == (
            f"The group's members subscribe to topic {topics['read']}: stop them or change their subscription "
            "first (Kafka refuses to delete the offsets of a subscribed topic)."
        )
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(CommandError, match=f"subscribe to topic {topics['read']}: stop them"):
            call_command(
                "delete_offsets",
                "--cluster", "local", "--group", group, "--topic", topics["read"], "--as", _admin_user().username,
                "--execute", "--reason", "try", stdout=out, stderr=err,
            )  # fmt: skip
        # Kafka's own answer, asked directly, says the same thing per partition.
        result = offset_deletion.delete_offsets(client_for(cluster), group, [TP(topics["read"], 0)])
        assert result.deleted == ()
        refusal = result.refused[TP(topics["read"], 0)]
        assert refusal.code == "GROUP_SUBSCRIBED_TO_TOPIC"
        assert refusal.message == (
            f"the members of group '{group}' subscribe to topic {topics['read']}: stop them or change their "
            "subscription first"
        )
        assert _committed(cluster, group) == before
        assert not Operation.objects.filter(group_id=group).exists()
    finally:
        member.stop()


def _admin_user():
    from django.contrib.auth.models import User

    from groups.models import Grant

    user, created = User.objects.get_or_create(username="od-admin")
    if created:
        Grant.objects.create(user=user, role="Admin")
    return user


def test_the_worker_refuses_a_topic_the_group_subscribed_to_after_the_preview(
    transactional_db, cluster, kafka_bootstrap, topics, unique, use_test_redis
):
    group = unique("od-late")
    _commit_all(kafka_bootstrap, group, topics)
    before = _committed(cluster, group)
    operation = _request(cluster, group, topics["read"], dispatch=False)
    member = kt.Member(kafka_bootstrap, group, [topics["read"]], client_id="od-late-app")
    try:
        member.wait_assigned()
        lifecycle.execute(operation.pk)
    finally:
        member.stop()
    operation.refresh_from_db()
    assert operation.status == "failed"
    assert operation.error == (
        f"The group's members subscribe to topic {topics['read']}: stop them or change their subscription first. "
        "Nothing was deleted. Preview again."
    )
    assert _committed(cluster, group) == before
    assert _events(operation) == ["requested", "started", "failed"]


def test_a_kip_848_group_keeps_reading_while_the_offsets_of_a_topic_it_left_are_deleted(
    transactional_db, cluster, kafka_bootstrap, topics, unique, use_test_redis
):
    group = unique("od-kip848")
    _commit_all(kafka_bootstrap, group, topics)
    member = kt.Member(kafka_bootstrap, group, [topics["read"]], protocol="consumer", client_id="od-848-app")
    try:
        member.wait_assigned()
        blocked = offset_deletions.preview_deletion(client_for(cluster), group, topics["read"])
        assert "subscribe to topic" in (blocked.blocked_reason or "")
        preview = offset_deletions.preview_deletion(client_for(cluster), group, topics["old"])
        assert not preview.unseen_subscriptions and preview.blocked_reason is None
        operation = _request(cluster, group, topics["old"], dispatch=False)
        lifecycle.execute(operation.pk)
        operation.refresh_from_db()
        assert operation.status == "succeeded", operation.error
        assert {tp.topic for tp in _committed(cluster, group)} == {topics["read"], topics["other"]}
    finally:
        member.stop()


def test_a_topic_a_kip_848_group_subscribes_to_by_regex_is_refused_as_the_tool_refuses_it_and_nothing_changes(
    transactional_db, cluster, kafka_bootstrap, topics, unique
):
    """A `consumer`-protocol member subscribed by regex: DescribeGroups knows nothing of the group, so its
    subscription comes from ConsumerGroupDescribe, and the topic the regex names is refused up front."""
    ours, theirs = unique("od-848-sub"), unique("od-848-sub-tool")
    members = []
    for group in (ours, theirs):
        _commit_all(kafka_bootstrap, group, topics)
        members.append(kt.Member(kafka_bootstrap, group, [f"^{topics['old']}$"], protocol="consumer"))
    try:
        for member in members:
            member.wait_assigned()
        (described,) = ConsumerGroupClient({"bootstrap.servers": kafka_bootstrap}, 10).describe(ours).members
        assert described.subscribed_topics == () and described.subscribed_regex == f"(^{topics['old']}$)"
        before = _committed(cluster, ours)
        preview = offset_deletions.preview_deletion(client_for(cluster), ours, f"{topics['old']}:1 {topics['other']}")
        assert preview.blocked_reason == (
            f"The group's members subscribe to topic {topics['old']}: stop them or change their subscription "
            "first (Kafka refuses to delete the offsets of a subscribed topic)."
        )
        assert not preview.unseen_subscriptions
        assert [row.topic for row in preview.plan.rows if row.subscribed] == [topics["old"]]
        with pytest.raises(CommandError, match=f"subscribe to topic {topics['old']}: stop them"):
            call_command(
                "delete_offsets",
                "--cluster", "local", "--group", ours, "--topic", topics["old"], "--as", _admin_user().username,
                "--execute", "--reason", "try", stdout=io.StringIO(), stderr=io.StringIO(),
            )  # fmt: skip
        tool = run_tool(
            "consumer-groups", ["--delete-offsets", "--group", theirs, "--topic", topics["old"]], kafka_bootstrap
        )
        assert tool.stdout.count("GroupSubscribedToTopicException") == 3, tool.stdout + tool.stderr
        assert _committed(cluster, ours) == before
        assert _describe(kafka_bootstrap, ours) == _describe(kafka_bootstrap, theirs)
        assert not Operation.objects.filter(group_id=ours).exists()
    finally:
        for member in members:
            member.stop()


def test_an_unknown_group_is_named_as_such_and_nothing_is_requested(cluster, topics, unique):
    group = unique("od-nobody")
    preview = offset_deletions.preview_deletion(client_for(cluster), group, topics["old"])
    assert preview.blocked_reason == (
        f"Group '{group}' does not exist on this cluster: Kafka knows no members and no committed offsets of it. "
        "Check the group id."
    )
    with pytest.raises(ConsoleError) as refused:
        offset_deletion.delete_offsets(client_for(cluster), group, [TP(topics["old"], 0)])
    assert refused.value.code == "GROUP_ID_NOT_FOUND"
    assert (
        refused.value.message == f"Group '{group}' does not exist: Kafka holds no offsets for it. Check the group id."
    )


def test_an_unknown_topic_or_partition_is_refused_before_kafka_is_asked(cluster, kafka_bootstrap, topics, unique):
    group = unique("od-typo")
    _commit_all(kafka_bootstrap, group, topics)
    with pytest.raises(PlanningError, match=r"Topic 'no-such-topic' does not exist\."):
        offset_deletions.preview_deletion(client_for(cluster), group, "no-such-topic")
    with pytest.raises(
        PlanningError, match=rf"The partition {topics['old']}-7 does not exist; .* has partitions 0 to 2"
    ):
        offset_deletions.preview_deletion(client_for(cluster), group, f"{topics['old']}:7")
    # Asked anyway, Kafka refuses the partition and deletes nothing.
    result = offset_deletion.delete_offsets(client_for(cluster), group, [TP(topics["old"], 7)])
    assert result.refused[TP(topics["old"], 7)].code == "UNKNOWN_TOPIC_OR_PARTITION"
    assert len(_committed(cluster, group)) == 6


def test_a_partition_without_a_committed_offset_is_said_to_lose_nothing(cluster, kafka_bootstrap, topics, unique):
    group = unique("od-none")
    _commit_all(kafka_bootstrap, group, topics)
    preview = offset_deletions.preview_deletion(client_for(cluster), group, f"{topics['old']}:1")
    (row,) = preview.plan.rows
    assert (row.before, row.note, row.log_end) == (None, NO_OFFSET, 15)
    assert preview.blocked_reason.startswith("Nothing to delete: no partition in scope has a committed offset.")
    whole = offset_deletions.preview_deletion(client_for(cluster), group, topics["old"])
    assert [(r.partition, r.before, r.lag) for r in whole.plan.rows] == [(0, 3, 7), (1, None, None), (2, 11, 9)]
    assert whole.plan.lag == 16 and whole.blocked_reason is None


def test_the_command_line_previews_and_deletes_with_the_tools_options(
    transactional_db, cluster, kafka_bootstrap, topics, unique, use_test_redis
):
    group = unique("od-cli")
    _commit_all(kafka_bootstrap, group, topics)
    admin = _admin_user()
    out = io.StringIO()
    args = ["--cluster", "local", "--group", group, "--topic", topics["old"], "--as", admin.username]
    call_command("delete_offsets", *args, "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"Group '{group}' on cluster 'local' is Empty." in text
    assert re.search(rf"{topics['old']}\s+1\s+-\s+0\s+15\s+-\s+{NO_OFFSET}", text), text
    assert "Lag of the offsets to delete: 16." in text and "Dry run: nothing was deleted." in text
    assert len(_committed(cluster, group)) == 6

    as_json = io.StringIO()
    call_command("delete_offsets", *args, "--dry-run", "--output", "json", stdout=as_json)
    assert [row["committed"] for row in json.loads(as_json.getvalue())] == [3, None, 11]

    with pytest.raises(CommandError, match="--execute needs --reason"):
        call_command("delete_offsets", *args, "--execute")
    out = io.StringIO()
    call_command("delete_offsets", *args, "--execute", "--reason", "retired topic", stdout=out)
    assert re.search(rf"{topics['old']}\s+2\s+Successful", out.getvalue()), out.getvalue()
    operation = Operation.objects.get(group_id=group)
    assert (operation.kind, operation.status, operation.requested_via) == ("delete_offsets", "succeeded", "cli")
    assert {tp.topic for tp in _committed(cluster, group)} == {topics["read"], topics["other"]}


def test_a_viewer_and_an_operator_may_not_delete_offsets_and_the_refusal_is_recorded(
    client, make_user, cluster, kafka_bootstrap, topics, unique
):
    group = unique("od-denied")
    _commit_all(kafka_bootstrap, group, topics)
    for role in ("Viewer", "Operator"):
        user = make_user(f"od-{role.lower()}", role)
        client.force_login(user)
        assert client.get(reverse("delete_offsets", args=["local", group])).status_code == 403
        response = client.post(reverse("delete_offsets_preview", args=["local", group]), {"topics": [topics["old"]]})
        assert response.status_code == 403
        page = client.get(reverse("group_page", args=["local", group])).content.decode()
        assert 'id="delete-offsets"' not in page
        with pytest.raises(CommandError, match="may not delete group"):
            call_command(
                "delete_offsets",
                "--cluster", "local", "--group", group, "--topic", topics["old"], "--as", user.username, "--dry-run",
            )  # fmt: skip
        assert AuditEvent.objects.filter(actor=user.username, action="denied").count() == 3
    assert len(_committed(cluster, group)) == 6


def _token(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the page offers no confirm form"
    return match.group(1)


def test_the_pages_list_the_offsets_preview_the_choice_and_run_it_through_the_worker(
    celery_worker, client, make_user, cluster, kafka_bootstrap, topics, unique
):
    group = unique("od-web")
    _commit_all(kafka_bootstrap, group, topics)
    client.force_login(make_user("od-web-admin", "Admin"))
    group_page = client.get(reverse("group_page", args=["local", group])).content.decode()
    assert f'href="{reverse("delete_offsets", args=["local", group])}"' in group_page

    form = client.get(reverse("delete_offsets", args=["local", group])).content.decode()
    assert f'value="{topics["old"]}:2"' in form and f'value="{topics["old"]}:1"' not in form
    assert f'name="topics" value="{topics["other"]}"' in form

    nothing = client.post(reverse("delete_offsets_preview", args=["local", group]), {}, HTTP_HX_REQUEST="true")
    assert nothing.status_code == 200  # htmx swaps the message in
    assert "Choose at least one topic or partition" in nothing.content.decode()

    preview = client.post(
        reverse("delete_offsets_preview", args=["local", group]),
        {"topics": [topics["other"]], "partitions": [f"{topics['old']}:2", f"{topics['other']}:0"]},
        HTTP_HX_REQUEST="true",
    )
    body = preview.content.decode()
    assert f'data-tp="{topics["old"]}-2"' in body and f'data-tp="{topics["old"]}-0"' not in body
    # other-0 lags 8, other-1 0, old-2 9; other:0 is in the whole topic already.
    assert re.findall(r'data-tp="([^"]+)"', body) == [
        f"{topics['old']}-2",
        f"{topics['other']}-0",
        f"{topics['other']}-1",
    ]
    assert 'id="deletion-lag">17<' in body

    expired = client.post(reverse("delete_offsets_confirm", args=["local", group]), {"token": "x", "reason": "r"})
    assert expired.status_code == 400 and "preview again" in expired.content.decode()
    no_reason = client.post(reverse("delete_offsets_confirm", args=["local", group]), {"token": _token(preview)})
    assert no_reason.status_code == 400 and "a reason is required" in no_reason.content.decode()

    confirmed = client.post(
        reverse("delete_offsets_confirm", args=["local", group]), {"token": _token(preview), "reason": "retired"}
    )
    operation = Operation.objects.get(group_id=group)
    assert confirmed.status_code == 302 and confirmed["Location"] == reverse("operation_page", args=[operation.pk])
    assert wait_final(operation).status == "succeeded", operation.error
    assert {tp.topic for tp in _committed(cluster, group)} == {topics["read"], topics["old"]}

    page = client.get(reverse("operation_page", args=[operation.pk])).content.decode()
    assert "Delete offsets of" in page and 'id="undo"' in page
    assert re.search(rf'data-tp="{topics["old"]}-2">.*?deleted', page, re.S)


def test_on_a_cluster_requiring_approval_a_deletion_waits_is_reviewed_and_then_run(
    celery_worker, make_user, cluster, kafka_bootstrap, topics, unique
):
    cluster.require_approval = True
    cluster.save()
    group = unique("od-approval")
    _commit_all(kafka_bootstrap, group, topics)
    requester, approver = make_user("od-requester", "Admin"), make_user("od-approver", "Approver")
    operation = _request(cluster, group, topics["old"], requester=requester)
    assert operation.status == "awaiting_approval"
    assert len(_committed(cluster, group)) == 6

    review = approvals.review(operation)
    assert review.blocked_reason is None and review.group is not None
    approvals.approve(operation, approver, "checked with the team")
    assert wait_final(operation).status == "succeeded", operation.error
    assert {tp.topic for tp in _committed(cluster, group)} == {topics["read"], topics["other"]}
    assert _events(operation) == ["requested", "approved", "started", "succeeded"]


def test_a_deletion_kafka_accepts_in_part_says_what_it_deleted_and_undo_puts_back_only_that(
    transactional_db, cluster, kafka_bootstrap, topics, unique, use_test_redis
):
    """`old` partition 1 holds no offset, so the drift check cannot see its topic vanish before the run:
    Kafka then deletes the rest and refuses that partition."""
    group = unique("od-partial")
    kt.commit(kafka_bootstrap, group, {(topics["read"], 0): 4, (topics["old"], 0): 3})
    operation = _request(cluster, group, f"{topics['read']}:0 {topics['old']}:1", dispatch=False)
    kt.admin(kafka_bootstrap).delete_topics([topics["old"]])[topics["old"]].result(timeout=30)
    kt.wait_for(lambda: topics["old"] not in client_for(cluster).topic_partition_counts([topics["old"]]))

    lifecycle.execute(operation.pk)
    operation.refresh_from_db()
    assert operation.status == "failed"
    assert operation.error == (
        f"Kafka refused to delete the offsets of {topics['old']}-1: partition {topics['old']}-1 does not exist: "
        f"check the topic and partition. It deleted the offsets of {topics['read']}-0: Undo puts them back."
    )
    assert [(o["topic"], o["partition"], o["deleted"]) for o in operation.outcome] == [
        (topics["old"], 1, False),
        (topics["read"], 0, True),
    ]
    assert operation.before_offsets() == {(topics["read"], 0): 4} and operation.can_be_undone
    undo = resets.preview_reset(client_for(cluster), group, "undo", undo_of=operation)
    assert [(r.topic, r.partition, r.after) for r in undo.plan.rows] == [(topics["read"], 0, 4)]


def test_an_approver_sees_that_the_group_now_subscribes_to_the_topic_and_cannot_approve(
    make_user, cluster, kafka_bootstrap, topics, unique
):
    cluster.require_approval = True
    cluster.save()
    group = unique("od-review")
    _commit_all(kafka_bootstrap, group, topics)
    operation = _request(cluster, group, topics["read"], requester=make_user("od-asker", "Admin"))
    member = kt.Member(kafka_bootstrap, group, [topics["read"]], client_id="od-review-app")
    try:
        member.wait_assigned()
        review = approvals.review(operation)
        assert review.blocked_reason == (
            f"The group's members subscribe to topic {topics['read']}: stop them or change their subscription "
            "first. As the group stands now, a worker would refuse. Approve once that has changed, or reject it."
        )
        with pytest.raises(approvals.DecisionRefused, match="a worker would refuse"):
            approvals.approve(operation, make_user("od-checker", "Approver"), "looks fine")
    finally:
        member.stop()
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval"
    assert len(_committed(cluster, group)) == 6


def test_a_deletion_whose_worker_vanished_is_failed_by_the_reaper_saying_whether_it_applied(
    cluster, kafka_bootstrap, topics, unique
):
    from datetime import timedelta

    from django.utils import timezone

    group = unique("od-reaped")
    _commit_all(kafka_bootstrap, group, topics)
    operation = _request(cluster, group, topics["old"], dispatch=False)
    Operation.objects.filter(pk=operation.pk).update(
        status="running", replay_attempt=1, heartbeat=timezone.now() - timedelta(hours=1)
    )
    assert offset_deletions.reap_stale_deletions(timedelta(minutes=5)) == [operation.pk]
    operation.refresh_from_db()
    assert operation.status == "failed"
    assert operation.error == (
        "The worker running this operation stopped without reporting back. "
        "The group's offsets are unchanged: the deletion was not applied."
    )


def test_offsets_are_deleted_on_a_sasl_ssl_cluster_with_the_clusters_own_credentials(
    db, secured_kafka, kafka_bootstrap, topics, unique, settings, tmp_path, caplog
):
    """kafka-python gets the cluster's SASL user, password and CA; a wrong password is refused with where
    to look, and the password is never logged."""
    from groups.models import Cluster

    caplog.set_level(logging.DEBUG)
    settings.KAFKA_REQUEST_TIMEOUT = 3
    wrong_password = tmp_path / "wrong-password"
    wrong_password.write_text("not-the-password\n")

    secured = Cluster(
        name="secured",
        bootstrap_servers=secured_kafka.bootstrap,
        security_protocol=Cluster.Security.SASL_SSL,
        sasl_mechanism=Cluster.Mechanism.SCRAM_SHA_512,
        sasl_username=secured_kafka.username,
        secret_ref=f"file:{secured_kafka.password_file}",
        ssl_ca_location=str(secured_kafka.ca_file),
    )
    secured.full_clean()
    secured.save()
    group = unique("od-secured")
    _commit_all(kafka_bootstrap, group, topics)
    client = client_for(secured)
    assert offset_deletion.group_subscriptions(client, group) == offset_deletion.Subscriptions(protocol_type="")
    result = offset_deletion.delete_offsets(client, group, [TP(topics["old"], 0)])
    assert result.deleted == (TP(topics["old"], 0),) and result.refused == {}
    assert TP(topics["old"], 0) not in _committed(secured, group)

    wrong = Cluster.objects.create(
        name="secured-wrong",
        bootstrap_servers=secured_kafka.bootstrap,
        security_protocol=Cluster.Security.SASL_SSL,
        sasl_mechanism=Cluster.Mechanism.SCRAM_SHA_512,
        sasl_username=secured_kafka.username,
        secret_ref=f"file:{wrong_password}",
        ssl_ca_location=str(secured_kafka.ca_file),
    )
    # The preview meets the rejected login first (through confluent-kafka, which names it) ...
    with pytest.raises(ConsoleError, match="rejected the console's credentials"):
        offset_deletions.preview_deletion(client_for(wrong), group, topics["old"])
    # ... and kafka-python, which only times out, still says where to look.
    with pytest.raises(ConsoleError, match="and the cluster's credentials"):
        offset_deletion.delete_offsets(client_for(wrong), group, [TP(topics["old"], 2)])
    assert TP(topics["old"], 2) in _committed(secured, group)
    password = secured_kafka.password_file.read_text().strip()
    assert password not in caplog.text
