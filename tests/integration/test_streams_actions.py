"""Resetting, deleting the offsets of, and deleting a streams group (KIP-1071) through the console's
consumer-group paths, against the real broker and Apache Kafka's own `kafka-streams-groups`.

Previews must equal `kafka-streams-groups --reset-offsets ... --dry-run`; a reset run by the real worker
is read back by the tool and undone; a streams group with live members is refused with nothing changed (at
preview, by the worker, by an approver, by the API); offset and group deletions leave what the tool's
`--delete-offsets` and `--delete` leave, and a deletion or a reset with the application's internal topics
deletes the topics the tool's `--delete-all-internal-topics` deletes on a twin application. The tool's
`--describe --offsets` lists only the partitions of members' tasks, so it shows nothing for the Empty
group a reset needs: the tool reads committed offsets back with `--reset-offsets --to-current --dry-run`.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from groups.kafka import TP, StreamsGroupNotFound, client_for, describe_streams_group
from groups.models import ApiToken, AuditEvent, Operation
from groups.operations import approvals, lifecycle, resets
from groups.snapshot.collector import collect
from localkafka.broker import run_tool
from tests import kafkatools as kt
from tests.operations import wait_final
from tests.streamsapp import WordCount

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral(
        "streams groups take the consumer-group reset and deletion paths, whose database side both engines "
        "test; what is checked here is Kafka's state against kafka-streams-groups"
    ),
]

HOUR_MS = 3_600_000


def _tool_offsets(bootstrap: str, group: str, *args: str) -> dict[tuple[str, int], int]:
    return kt.tool_reset_plan(bootstrap, "streams-groups", group, *args)


def _tool_committed(bootstrap: str, group: str, *topics: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets as the tool reads them (all input topics, or the named ones)."""
    scope = [a for t in topics for a in ("--input-topic", t)] if topics else ["--all-input-topics"]
    return _tool_offsets(bootstrap, group, *scope, "--to-current")


def _state(bootstrap: str, group: str) -> str:
    try:
        return describe_streams_group({"bootstrap.servers": bootstrap}, 10, group).state
    except StreamsGroupNotFound:
        return "missing"


def _topics(bootstrap: str) -> set[str]:
    """The cluster's topics as `kafka-topics --list` shows them."""
    listed = run_tool("topics", ["--list"], bootstrap)
    assert listed.returncode == 0, listed.stderr[-2000:]
    return set(listed.stdout.split())


def _token(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, response.content.decode()[-3000:]
    return match.group(1)


@pytest.fixture(scope="module")
def streams_groups(kafka_bootstrap):
    """Four word-count applications, each its own streams group, that read every record of their 2-partition
    source topic (records two hours, then one hour old: 6 and 4 per partition) and committed them: `idle`,
    `doomed` and `twin` (doomed's twin, for the tool) then stopped (Empty; `idle`'s partition 0 lost its first 2
    records to retention since), `live` runs until the module ends. Each has internal topics `repartition` and
    `changelog`."""
    b = kafka_bootstrap
    now_ms = int(time.time() * 1000)
    groups, apps = {}, {}
    for name in ("idle", "live", "doomed", "twin"):
        suffix = uuid.uuid4().hex[:8]
        source, sink, app = f"lines-{name}-{suffix}", f"counts-{name}-{suffix}", f"streams-{name}-{suffix}"
        kt.create_topic(b, source, 2)
        kt.create_topic(b, sink, 1)
        kt.produce(b, source, {0: 3, 1: 3}, timestamp_ms=now_ms - 2 * HOUR_MS)
        kt.produce(b, source, {0: 2, 1: 2}, timestamp_ms=now_ms - HOUR_MS)
        groups[name] = {
            "app": app,
            "source": source,
            "sink": sink,
            "repartition": f"{app}-words-repartition",
            "changelog": f"{app}-word-counts-changelog",
        }
        apps[name] = WordCount(b, app, source, sink)
    try:
        for name, group in groups.items():

            def settled(group=group) -> bool:
                if _state(b, group["app"]) != "Stable":
                    return False
                return kt.committed(b, group["app"], group["source"]) == {0: 5, 1: 5}

            try:
                kt.wait_for(settled, timeout=120, interval=1, what=f"streams group {name} to commit every record")
            except AssertionError:
                raise AssertionError(apps[name].output()[-3000:]) from None
        for name in ("idle", "doomed", "twin"):
            apps[name].stop()
            kt.wait_for(lambda n=name: _state(b, groups[n]["app"]) == "Empty", timeout=60, what=f"{name} to be Empty")
        kt.delete_records(b, groups["idle"]["source"], 0, before=2)
        yield {**groups, "now_ms": now_ms}
    finally:
        for app in apps.values():
            app.stop()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("strategy", "value", "tool_args"),
    [
        ("to-earliest", "", ["--to-earliest"]),
        ("to-latest", "", ["--to-latest"]),
        ("to-offset", "1", ["--to-offset", "1"]),
        ("shift-by", "-3", ["--shift-by", "-3"]),
        ("by-duration", "PT90M", ["--by-duration", "PT90M"]),
        ("to-current", "", ["--to-current"]),
    ],
)
def test_previews_equal_kafka_streams_groups_reset_offsets_dry_run(
    cluster, kafka_bootstrap, streams_groups, strategy, value, tool_args
):
    group = streams_groups["idle"]
    app, source = group["app"], group["source"]
    for scope, scope_args in (("", ["--all-input-topics"]), (f"{source}:1", ["--input-topic", f"{source}:1"])):
        preview = resets.preview_reset(client_for(cluster), app, strategy, value, scope)
        planned = {(row.topic, row.partition): row.after for row in preview.plan.rows}
        assert planned == _tool_offsets(kafka_bootstrap, app, *tool_args, *scope_args), scope
        assert preview.group.type == "streams" and preview.group.state == "Empty"
    # "All input topics" are the source topics, not the repartition topic the group also commits on.
    everything = resets.preview_reset(client_for(cluster), app, strategy, value)
    assert {row.topic for row in everything.plan.rows} == {source}
    assert any(f"offsets on {group['repartition']} stay as they are" in w for w in everything.plan.warnings)
    assert group["repartition"] in {tp.topic for tp in client_for(cluster).committed_offsets([app])[app]}


@pytest.mark.django_db
def test_a_datetime_preview_equals_the_tools_and_a_bad_one_is_told_next_to_its_field(
    operator_client, cluster, kafka_bootstrap, streams_groups
):
    app = streams_groups["idle"]["app"]
    at = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime((streams_groups["now_ms"] - 90 * 60_000) / 1000))
    preview = resets.preview_reset(client_for(cluster), app, "to-datetime", at)
    planned = {(row.topic, row.partition): row.after for row in preview.plan.rows}
    assert planned == _tool_offsets(kafka_bootstrap, app, "--all-input-topics", "--to-datetime", at)
    assert sorted(planned.values()) == [3, 3]

    url = reverse("reset_preview", args=["local", app])
    for strategy, value, told in (
        ("to-datetime", "yesterday", "Invalid date and time &#x27;yesterday&#x27;"),
        ("to-offset", "forty-two", "whole number"),
        ("shift-by", "", "needs a value"),
    ):
        response = operator_client.post(url, {"strategy": strategy, "value": value, "scope_mode": "all"})
        assert response.status_code == 400, (strategy, response.status_code)
        assert told in response.content.decode(), strategy


@pytest.mark.django_db
def test_unknown_topics_and_groups_get_a_clear_message_and_no_plan(operator_client, cluster, streams_groups):
    app, source = streams_groups["idle"]["app"], streams_groups["idle"]["source"]
    url = reverse("reset_preview", args=["local", app])
    for scope in ("no-such-topic", f"{source}:7"):
        response = operator_client.post(url, {"strategy": "to-earliest", "scope_mode": "topics", "scope": scope})
        body = response.content.decode()
        assert response.status_code == 400, body[-2000:]
        assert f"Streams group &#x27;{app}&#x27; has no committed offsets on" in body
        assert 'name="token"' not in body
    missing = f"{app}-missing"
    response = operator_client.post(
        reverse("reset_preview", args=["local", missing]), {"strategy": "to-earliest", "scope_mode": "all"}
    )
    assert response.status_code == 200 and "does not exist on this cluster" in response.content.decode()
    assert 'name="token"' not in response.content.decode()
    gone = operator_client.get(reverse("streams_group_page", args=["local", missing]))
    assert gone.status_code == 404 and "There is no streams group" in gone.content.decode()


def test_a_streams_reset_is_run_by_the_worker_read_back_by_kafka_streams_groups_and_undone(
    celery_worker, operator_client, cluster, kafka_bootstrap, streams_groups
):
    app, source = streams_groups["idle"]["app"], streams_groups["idle"]["source"]
    before = _tool_committed(kafka_bootstrap, app)
    page = operator_client.get(reverse("streams_group_page", args=["local", app])).content.decode()
    assert f'href="{reverse("reset_form", args=["local", app])}"' in page

    preview = operator_client.post(
        reverse("reset_preview", args=["local", app]), {"strategy": "to-offset", "value": "3", "scope_mode": "all"}
    )
    assert preview.status_code == 200, preview.content.decode()[-2000:]
    # The internal topics are listed with the warning about the state kept; an Operator may not delete them.
    body = preview.content.decode()
    assert set(re.findall(r'<tr data-topic="([^"]+)"', body)) == {
        streams_groups["idle"]["repartition"],
        streams_groups["idle"]["changelog"],
    }
    assert 'id="stale-state-warning"' in body and 'id="internal-topics-refused"' in body
    assert 'name="delete_internal_topics"' not in body
    confirmed = operator_client.post(
        reverse("reset_confirm", args=["local", app]), {"token": _token(preview), "reason": "reprocess the tail"}
    )
    assert confirmed.status_code == 302
    operation = wait_final(Operation.objects.get(group_id=app, kind=Operation.Kind.RESET))
    assert operation.status == "succeeded", operation.error
    assert all(o["verified"] for o in operation.outcome)
    assert _tool_committed(kafka_bootstrap, app) == {(source, 0): 3, (source, 1): 3}
    actions = list(AuditEvent.objects.filter(operation=operation).order_by("id").values_list("action", flat=True))
    assert actions == ["requested", "started", "succeeded"]

    undo_preview = operator_client.get(reverse("reset_form", args=["local", app]) + f"?undo={operation.pk}")
    assert undo_preview.status_code == 200, undo_preview.content.decode()[-2000:]
    operator_client.post(
        reverse("reset_confirm", args=["local", app]), {"token": _token(undo_preview), "reason": "undo"}
    )
    undo = wait_final(Operation.objects.get(undo_of=operation))
    assert undo.status == "succeeded", undo.error
    assert _tool_committed(kafka_bootstrap, app) == before

    # librdkafka describes the streams group as a Dead group holding offsets: its consumer-group page sends
    # a person to the streams group's page, where the actions are.
    assert collect(cluster).outcome == "collected"
    page = operator_client.get(reverse("group_page", args=["local", app]))
    assert page.status_code == 302 and page.url == reverse("streams_group_page", args=["local", app])


def test_streams_resets_need_another_users_approval_which_a_live_group_refuses(
    celery_worker, cluster, kafka_bootstrap, streams_groups, make_user
):
    cluster.require_approval = True
    cluster.save()
    operator, approver = make_user("streams-operator", "Operator"), make_user("streams-approver", "Approver")
    idle, live = streams_groups["idle"], streams_groups["live"]
    before = _tool_committed(kafka_bootstrap, idle["app"])

    def requested(group: str) -> Operation:
        preview = resets.preview_reset(client_for(cluster), group, "to-earliest")
        return resets.request_operation(
            cluster=cluster,
            group_id=group,
            kind=Operation.Kind.RESET,
            plan=resets.plan_rows(preview.plan),
            reason="start over",
            actor=operator.get_username(),
            requester=operator,
            strategy="to-earliest",
        )

    waiting = requested(idle["app"])
    assert waiting.status == "awaiting_approval"
    with pytest.raises(PermissionDenied):
        approvals.approve(waiting, operator, "my own")
    approvals.approve(waiting, approver, "checked the plan")
    assert wait_final(waiting).status == "succeeded", waiting.error
    assert _tool_committed(kafka_bootstrap, idle["app"]) == {(idle["source"], 0): 2, (idle["source"], 1): 0}
    client_for(cluster).alter_offsets(idle["app"], {TP(t, p): o for (t, p), o in before.items()})

    # Planned against the live group (the preview was blocked), then put before an approver: refused.
    blocked = requested(live["app"])
    with pytest.raises(approvals.DecisionRefused, match=f"Streams group '{live['app']}' is Stable"):
        approvals.approve(blocked, approver, "looks fine")
    blocked.refresh_from_db()
    assert blocked.status == "awaiting_approval"


@pytest.mark.django_db(transaction=True)
def test_a_streams_group_with_live_members_is_refused_everywhere_with_nothing_changed(
    operator_client, admin_client, cluster, kafka_bootstrap, streams_groups, use_test_redis
):
    app, source = streams_groups["live"]["app"], streams_groups["live"]["source"]
    before = client_for(cluster).committed_offsets([app])[app]
    tool = run_tool(
        "streams-groups",
        ["--reset-offsets", "--group", app, "--all-input-topics", "--to-earliest", "--execute"],
        kafka_bootstrap,
    )
    assert f"Assignments can only be reset if the group '{app}' is inactive, but the current state is Stable" in (
        tool.stdout
    )

    preview = operator_client.post(
        reverse("reset_preview", args=["local", app]), {"strategy": "to-earliest", "scope_mode": "all"}
    )
    body = preview.content.decode()
    assert preview.status_code == 200 and 'name="token"' not in body
    assert f"Streams group &#x27;{app}&#x27; is Stable with 1 member" in body
    assert "Stop every instance of its Kafka Streams application, then preview again." in body

    planned = resets.preview_reset(client_for(cluster), app, "to-earliest")
    assert planned.blocked_reason and planned.plan.rows
    internal = {streams_groups["live"]["repartition"], streams_groups["live"]["changelog"]}
    assert planned.internal_topics is not None and set(planned.internal_topics.names) == internal
    operation = resets.request_operation(
        cluster=cluster,
        group_id=app,
        kind=Operation.Kind.RESET,
        plan=resets.plan_rows(planned.plan),
        reason="planned while it ran",
        actor="tester",
        strategy="to-earliest",
        dispatch=False,
        delete_internal_topics=planned.internal_topics.rows(),
    )
    lifecycle.execute(operation.pk)
    operation.refresh_from_db()
    assert operation.status == "failed"
    assert operation.error.startswith(f"Streams group '{app}' is Stable with 1 member")
    assert "Nothing was written." in operation.error
    assert not any("deleted" in row for row in operation.internal_topics)
    assert internal <= _topics(kafka_bootstrap)

    deletion = admin_client.post(reverse("delete_offsets_preview", args=["local", app]), {"topics": [source]})
    body = deletion.content.decode()
    assert deletion.status_code == 200 and 'name="token"' not in body
    assert "Stop every instance of its Kafka Streams application first." in body
    delete_page = admin_client.post(reverse("delete_group", args=["local", app]), {"reason": "r", "confirm_group": app})
    assert delete_page.status_code == 409 and "Stop every instance of its Kafka Streams application" in (
        delete_page.content.decode()
    )
    assert not Operation.objects.filter(group_id=app, kind=Operation.Kind.DELETE_GROUP).exists()
    assert client_for(cluster).committed_offsets([app])[app] == before
    assert _state(kafka_bootstrap, app) == "Stable"


def test_offset_and_group_deletions_leave_what_kafka_streams_groups_leaves(
    celery_worker, admin_client, cluster, kafka_bootstrap, streams_groups, make_user
):
    app, source, repartition = (streams_groups["doomed"][k] for k in ("app", "source", "repartition"))
    page = admin_client.get(reverse("streams_group_page", args=["local", app])).content.decode()
    assert f'href="{reverse("delete_offsets", args=["local", app])}"' in page
    assert f'href="{reverse("delete_group", args=["local", app])}"' in page

    # The console deletes partition 0's offset, the tool partition 1's: both are gone the same way.
    preview = admin_client.post(reverse("delete_offsets_preview", args=["local", app]), {"scope": f"{source}:0"})
    assert preview.status_code == 200, preview.content.decode()[-2000:]
    admin_client.post(
        reverse("delete_offsets_confirm", args=["local", app]), {"token": _token(preview), "reason": "retire"}
    )
    operation = wait_final(Operation.objects.get(group_id=app, kind=Operation.Kind.DELETE_OFFSETS))
    assert operation.status == "succeeded", operation.error
    tool = run_tool(
        "streams-groups", ["--delete-offsets", "--group", app, "--input-topic", f"{source}:1"], kafka_bootstrap
    )
    assert "Request succeeded for deleting offsets" in tool.stdout, tool.stdout + tool.stderr
    committed = client_for(cluster).committed_offsets([app])[app]
    assert {tp.topic for tp in committed} == {repartition}
    assert _tool_committed(kafka_bootstrap, app) == {}

    # The page lists the internal topics the deletion may delete too; the tool deletes the same on the twin.
    form = admin_client.get(reverse("delete_group", args=["local", app])).content.decode()
    assert 'id="delete-form"' in form and 'id="delete-internal-topics"' in form
    assert 'id="delete-internal-topics" checked' not in form
    listed = set(re.findall(r'<tr data-topic="([^"]+)"', form))
    assert listed == {repartition, streams_groups["doomed"]["changelog"]}
    twin = streams_groups["twin"]["app"]
    before = _topics(kafka_bootstrap)
    tool = run_tool("streams-groups", ["--delete", "--group", twin, "--delete-all-internal-topics"], kafka_bootstrap)
    tool_deleted = before - _topics(kafka_bootstrap)
    assert {topic.replace(twin, app, 1) for topic in tool_deleted} == listed, tool.stdout + tool.stderr

    seen = re.search(r'name="internal_topics_seen" value="([^"]*)"', form)
    assert seen, form[-3000:]
    response = admin_client.post(
        reverse("delete_group", args=["local", app]),
        {"reason": "retired", "confirm_group": app, "delete_internal_topics": "on", "internal_topics_seen": seen[1]},
    )
    assert response.status_code == 302
    deletion = wait_final(Operation.objects.get(group_id=app, kind=Operation.Kind.DELETE_GROUP))
    assert deletion.status == "succeeded", deletion.error
    left = _topics(kafka_bootstrap)
    assert not listed & left
    assert {source, streams_groups["doomed"]["sink"]} <= left
    assert {row["topic"] for row in deletion.internal_topics if row["deleted"]} == listed
    event = AuditEvent.objects.get(operation=deletion, action="internal_topics_deleted")
    assert event.outcome == "succeeded" and set(event.topics) == listed
    assert set(AuditEvent.objects.get(operation=deletion, action="requested").topics) == listed
    page = admin_client.get(reverse("operation_page", args=[deletion.pk])).content.decode()
    assert page.count('<td class="topic-outcome">deleted</td>') == 2
    # Its offsets could only go back into a classic group, which the application would not take over: no undo.
    assert deletion.group_type == "streams" and 'id="undo"' not in page
    assert f"it deleted streams group &#x27;{app}&#x27; with its internal topics" in page
    undo = admin_client.get(reverse("reset_form", args=["local", app]) + f"?undo={deletion.pk}")
    assert undo.status_code == 400 and "kafka-streams-application-reset" in undo.content.decode()
    api = Client(headers={"Authorization": f"Token {ApiToken.issue(make_user('streams-undo-admin', 'Admin'))}"})
    undo_api = api.post(f"/api/operations/{deletion.pk}/undo-preview/")
    assert undo_api.status_code == 400 and undo_api.json()["code"] == "CANNOT_UNDO"
    assert "could only be committed back into a classic consumer group" in undo_api.json()["error"]
    assert _state(kafka_bootstrap, app) == "missing"
    assert client_for(cluster).committed_offsets([app])[app] == {}
    groups_listed = run_tool("streams-groups", ["--list"], kafka_bootstrap)
    assert app not in groups_listed.stdout.split()
    again = run_tool("streams-groups", ["--delete", "--group", app], kafka_bootstrap)
    assert f"Group '{app}' does not exist or is not a streams group." in again.stdout


@pytest.mark.django_db
def test_the_api_refuses_a_live_streams_group_and_tells_bad_input_as_the_pages_do(
    cluster, kafka_bootstrap, streams_groups, make_user
):
    api = Client(headers={"Authorization": f"Token {ApiToken.issue(make_user('streams-api-admin', 'Admin'))}"})
    live, idle = streams_groups["live"]["app"], streams_groups["idle"]["app"]

    def post(url: str, body: dict):
        return api.post(url, body, content_type="application/json")

    preview = post(f"/api/clusters/local/reset-preview/{live}/", {"strategy": "to-earliest"}).json()
    assert preview["token"] is None and preview["state"] == "Stable" and preview["plan"]
    assert preview["blocked_reason"].startswith(f"Streams group '{live}' is Stable with 1 member")
    doomed = api.get(f"/api/clusters/local/delete-group-preview/{live}/").json()
    assert doomed["blocked_reason"].startswith(f"Streams group '{live}' is Stable")
    refused = post(f"/api/clusters/local/delete-group/{live}/", {"reason": "retire"})
    assert refused.status_code == 409 and refused.json()["code"] == "GROUP_ACTIVE"
    assert not Operation.objects.filter(group_id=live).exists()

    for body, told in (
        ({"strategy": "to-offset", "value": "4x"}, "whole number"),
        ({"strategy": "to-datetime", "value": "2026-12-02 10:00"}, "must contain a 'T'"),
        ({"strategy": "to-earliest", "scope": "no-such-topic"}, "has no committed offsets on no-such-topic"),
    ):
        answer = post(f"/api/clusters/local/reset-preview/{idle}/", body)
        assert answer.status_code == 400 and told in answer.json()["error"], answer.json()


@pytest.mark.django_db
def test_the_command_line_plans_a_streams_reset_as_the_tool_and_refuses_a_live_group(
    cluster, kafka_bootstrap, streams_groups, make_user
):
    make_user("streams-cli", "Operator")
    idle, live = streams_groups["idle"], streams_groups["live"]
    common = ["--cluster", "local", "--as", "streams-cli", "--all-topics", "--to-earliest"]
    out = io.StringIO()
    call_command("reset_offsets", "--group", idle["app"], *common, "--dry-run", "--output", "json", stdout=out)
    planned = {(row["topic"], row["partition"]): row["after"] for row in json.loads(out.getvalue())}
    assert planned == _tool_offsets(kafka_bootstrap, idle["app"], "--all-input-topics", "--to-earliest")
    with pytest.raises(CommandError, match=f"Streams group '{live['app']}' is Stable.*Nothing was written"):
        call_command("reset_offsets", "--group", live["app"], *common, "--execute", "--reason", "r", stdout=out)
    assert not Operation.objects.filter(group_id=live["app"]).exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_line_deletes_the_internal_topics_its_dry_run_lists_and_only_for_whoever_may_delete(
    cluster, kafka_bootstrap, streams_groups, make_user, use_test_redis
):
    idle = streams_groups["idle"]
    app, internal = idle["app"], {idle["repartition"], idle["changelog"]}
    make_user("streams-cli-operator", "Operator")
    make_user("streams-cli-admin", "Admin")
    reset = ["--cluster", "local", "--group", app, "--all-topics", "--to-offset", "3", "--delete-internal-topics"]
    with pytest.raises(CommandError, match=r"deletes topics, which is a deletion\. You may not delete group"):
        call_command("reset_offsets", *reset, "--as", "streams-cli-operator", "--dry-run", stdout=io.StringIO())

    def run(*args: str) -> str:
        out = io.StringIO()
        call_command("reset_offsets", *reset, "--as", "streams-cli-admin", *args, stdout=out)
        return out.getvalue()

    listed = run("--dry-run")
    assert "Internal topics to delete once the reset succeeded" in listed
    assert {line.split()[0] for line in listed.splitlines() if line.startswith(app)} == internal
    done = run("--execute", "--reason", "start over with empty state")
    operation = Operation.objects.get(group_id=app, requested_via="cli")
    assert operation.status == "succeeded", operation.error
    assert {row["topic"] for row in operation.internal_topics if row["deleted"]} == internal
    assert f"{idle['changelog']}  yes" in done
    assert not internal & _topics(kafka_bootstrap)
    assert _tool_committed(kafka_bootstrap, app) == {(idle["source"], 0): 3, (idle["source"], 1): 3}
    # Gone, they are listed as left alone, with why.
    again = run("--dry-run")
    assert "The application has no internal topics on the cluster to delete." in again
    assert f"  {idle['changelog']}: it is not on the cluster" in again
    # The API test below deletes them again: put them back as they were.
    for row in operation.internal_topics:
        kt.create_topic(kafka_bootstrap, row["topic"], row["partitions"])


@pytest.mark.django_db
def test_a_reset_from_a_file_plans_what_the_tools_from_file_plans(cluster, kafka_bootstrap, streams_groups, tmp_path):
    app, source = streams_groups["idle"]["app"], streams_groups["idle"]["source"]
    # Offset 1 of partition 0 is below its log start (2): both clamp it there.
    csv = f"{source},0,1\n{source},1,4\n"
    path = tmp_path / "offsets.csv"
    path.write_text(csv)
    preview = resets.preview_reset(client_for(cluster), app, "from-file", csv)
    planned = {(row.topic, row.partition): row.after for row in preview.plan.rows}
    assert planned == _tool_offsets(kafka_bootstrap, app, "--from-file", str(path)) == {(source, 0): 2, (source, 1): 4}


def test_an_api_reset_that_deletes_the_internal_topics_deletes_those_its_preview_listed(
    celery_worker, cluster, kafka_bootstrap, streams_groups, make_user
):
    idle = streams_groups["idle"]
    app = idle["app"]
    api = Client(headers={"Authorization": f"Token {ApiToken.issue(make_user('streams-topics-admin', 'Admin'))}"})
    preview = api.post(
        f"/api/clusters/local/reset-preview/{app}/", {"strategy": "to-earliest"}, content_type="application/json"
    ).json()
    internal = preview["internal_topics"]
    assert {row["topic"] for row in internal["delete"]} == {idle["repartition"], idle["changelog"]}
    assert "counts it twice" in internal["warning"]
    answer = api.post(
        preview["request_url"],
        {"token": preview["token"], "reason": "reprocess from scratch", "delete_internal_topics": True},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.json()
    operation = wait_final(Operation.objects.get(pk=answer.json()["id"]))
    assert operation.status == "succeeded", operation.error
    left = _topics(kafka_bootstrap)
    assert not {idle["repartition"], idle["changelog"]} & left
    assert {idle["source"], idle["sink"]} <= left
    assert _tool_committed(kafka_bootstrap, app) == {(idle["source"], 0): 2, (idle["source"], 1): 0}
    shown = api.get(f"/api/operations/{operation.pk}/").json()
    assert all(row["deleted"] for row in shown["internal_topics"]) and len(shown["internal_topics"]) == 2
    # Its undo would put the offsets back, not the topics: the preview says so, naming them.
    undo = api.post(f"/api/operations/{operation.pk}/undo-preview/").json()
    assert any(
        f"also deleted this Kafka Streams application's internal topics ({idle['changelog']}, {idle['repartition']})"
        in warning
        and "restores offsets only" in warning
        for warning in undo["warnings"]
    ), undo
