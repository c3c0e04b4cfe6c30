"""Streams groups (KIP-1071) on the local Kafka 4.3.1 broker, which runs them as formatted
(streams.version=1; group.coordinator.rebalance.protocols includes streams by default): a real Kafka
Streams application (tests/streamsapp.py) forms one, and the console's figures must equal what Apache
Kafka's kafka-streams-groups prints for it: --describe --state, --members and --offsets, verbose."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.test import Client

from groups.kafka import StreamsGroupNotFound, describe_streams_group
from groups.kafka.share_connection import on_coordinator
from groups.kafka.streams import describe_streams_groups
from groups.kafka.streams_protocol import STREAMS_GROUP_DESCRIBE, VERSION
from groups.snapshot.collector import collect
from localkafka.broker import run_tool
from tests import kafkatools as kt
from tests.streamsapp import WordCount

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral(
        "how streams groups read from Kafka; the snapshot they land in is tested on both engines by test_collector"
    ),
]


def _tool(bootstrap: str, group: str, *args: str) -> list[dict[str, str]]:
    """Rows of kafka-streams-groups --describe: whitespace-aligned columns, the last (the tasks) may hold spaces."""
    result = run_tool("streams-groups", ["--describe", "--group", group, *args], bootstrap)
    assert result.returncode == 0 and "Error" not in result.stdout, result.stdout + result.stderr
    rows, header = [], None
    for line in result.stdout.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "GROUP":
            header = fields
        elif header:
            head = fields[: len(header) - 1]
            rows.append(dict(zip(header, [*head, " ".join(fields[len(header) - 1 :])])))
    return rows


@pytest.fixture(scope="module")
def word_count(kafka_bootstrap):
    """A streams group of two application instances counting the words of a 3-partition topic: two
    sub-topologies joined by a repartition topic, a changelog, every record processed and committed."""
    b = kafka_bootstrap
    suffix = uuid.uuid4().hex[:8]
    source, sink, app = f"lines-{suffix}", f"counts-{suffix}", f"word-count-{suffix}"
    kt.create_topic(b, source, 3)
    kt.create_topic(b, sink, 1)
    kt.produce(b, source, {0: 4, 1: 3, 2: 5})
    apps = [WordCount(b, app, source, sink) for _ in range(2)]
    config = {"bootstrap.servers": b}
    try:

        def settled() -> bool:
            try:
                d = describe_streams_group(config, 10, app)
            except StreamsGroupNotFound:
                return False
            if not (
                d.state == "Stable"
                and len(d.members) == 2
                and d.assignment_epoch == d.group_epoch
                and all(m.assignment.active and m.member_epoch == d.group_epoch for m in d.members)
            ):
                return False
            # Every input partition committed up to its log end: nothing moves while the tests compare.
            rows = _tool(b, app, "--offsets", "--verbose")
            return len(rows) == 6 and all(r["CURRENT-OFFSET"] == r["LOG-END-OFFSET"] for r in rows)

        try:
            kt.wait_for(settled, timeout=120, interval=1, what="the streams group to be Stable with both instances")
        except AssertionError:
            raise AssertionError("\n".join(a.output()[-3000:] for a in apps)) from None
        yield {"app": app, "source": source, "config": config}
    finally:
        for instance in apps:
            instance.stop()


def test_streams_group_describe_v0_reads_the_group_from_the_real_broker(kafka_bootstrap, word_count):
    app, source = word_count["app"], word_count["source"]

    def ask(connection, coordinator):
        assert (
            connection.supported(STREAMS_GROUP_DESCRIBE)[0]
            <= VERSION
            <= connection.supported(STREAMS_GROUP_DESCRIBE)[1]
        )
        return describe_streams_groups(connection, coordinator, [app, f"{app}-missing"])

    answers = on_coordinator(word_count["config"], 10, app, ask)
    d = answers[app]
    assert isinstance(answers[f"{app}-missing"], StreamsGroupNotFound)
    assert [(s.subtopology_id, s.source_topics) for s in d.subtopologies] == [("0", (source,)), ("1", ())]
    repartition = f"{app}-words-repartition"
    assert d.subtopologies[0].repartition_sink_topics == (repartition,)
    assert [t.name for t in d.subtopologies[1].repartition_source_topics] == [repartition]
    assert [t.name for t in d.subtopologies[1].state_changelog_topics] == [f"{app}-word-counts-changelog"]
    assert d.input_topics == tuple(sorted((source, repartition)))
    assert all(m.process_id and not m.is_classic and m.topology_epoch == d.topology_epoch for m in d.members)
    # Two instances share the six tasks of the two sub-topologies: each task runs once.
    tasks = sorted((t.subtopology_id, p) for m in d.members for t in m.assignment.active for p in t.partitions)
    assert tasks == [(s, p) for s in ("0", "1") for p in range(3)]


def test_state_equals_kafka_streams_groups_describe_state_verbose(viewer_client, cluster, kafka_bootstrap, word_count):
    app = word_count["app"]
    (row,) = _tool(kafka_bootstrap, app, "--state", "--verbose")
    console = viewer_client.get(f"/api/clusters/local/streams-groups/{app}/").json()
    assert console["state"] == row["STATE"] == "Stable"
    assert console["group_epoch"] == int(row["GROUP-EPOCH"])
    assert console["assignment_epoch"] == int(row["TARGET-ASSIGNMENT-EPOCH"])
    assert len(console["members"]) == int(row["#MEMBERS"]) == 2
    assert console["coordinator"] == f"{row['COORDINATOR']} {row['(ID)']}"


def _tasks_text(assignment: dict, prefix: str) -> str:
    parts = []
    for kind, label in (("active", "ACTIVE"), ("standby", "STANDBY"), ("warmup", "WARMUP")):
        if assignment[kind]:
            tasks = " ".join(f"{t['subtopology']}:[{','.join(map(str, t['partitions']))}];" for t in assignment[kind])
            parts.append(f"{prefix}{label}: {tasks}")
    return " ".join(parts)


def test_members_equal_kafka_streams_groups_describe_members_verbose(
    viewer_client, cluster, kafka_bootstrap, word_count
):
    app = word_count["app"]
    tool = {r["MEMBER"]: r for r in _tool(kafka_bootstrap, app, "--members", "--verbose")}
    console = viewer_client.get(f"/api/clusters/local/streams-groups/{app}/").json()
    assert sorted(tool) == sorted(m["member_id"] for m in console["members"])
    for member in console["members"]:
        row = tool[member["member_id"]]
        assert member["member_epoch"] == int(row["MEMBER-EPOCH"])
        assert member["topology_epoch"] == int(row["TOPOLOGY-EPOCH"])
        assert (member["process_id"], member["client_id"]) == (row["PROCESS"], row["CLIENT-ID"])
        assert row["MEMBER-PROTOCOL"] == "streams" and not member["is_classic"]
        assert console["assignment_epoch"] == int(row["TARGET-ASSIGNMENT-EPOCH"])
        expected = f"{_tasks_text(member['assignment'], '')} {_tasks_text(member['target_assignment'], 'TARGET-')}"
        assert re.sub(r"\s+", " ", row["ASSIGNMENTS"]).strip() == expected


def test_offsets_and_lag_equal_kafka_streams_groups_describe_offsets_verbose(
    viewer_client, cluster, kafka_bootstrap, word_count
):
    app = word_count["app"]
    tool = {(r["TOPIC"], int(r["PARTITION"])): r for r in _tool(kafka_bootstrap, app, "--offsets", "--verbose")}
    console = viewer_client.get(f"/api/clusters/local/streams-groups/{app}/").json()
    rows = {(p["topic"], p["partition"]): p for p in console["partitions"]}
    assert sorted(rows) == sorted(tool)
    for key, row in tool.items():
        ours = rows[key]
        assert ours["committed"] == (None if row["CURRENT-OFFSET"] == "-" else int(row["CURRENT-OFFSET"])), key
        assert ours["log_end"] == int(row["LOG-END-OFFSET"]), key
        assert ours["lag"] == int(row["OFFSET-LAG"]), key
    assert console["lag"] == sum(int(r["OFFSET-LAG"]) for r in tool.values())

    page = viewer_client.get(f"/clusters/local/streams-groups/{app}/").content.decode()
    assert 'id="subtopologies"' in page and f"{app}-words-repartition" in page and "0:[" in page


def test_streams_groups_are_collected_and_listed_with_the_type_filter(
    transactional_db, use_test_redis, viewer_client, make_user, cluster, kafka_bootstrap, word_count
):
    app = word_count["app"]
    report = collect(cluster)
    assert report.outcome == "collected", report.reason
    (listed,) = viewer_client.get(f"/api/clusters/local/groups/?type=streams&q={app}").json()["groups"]
    assert (listed["group"], listed["protocol_type"], listed["state"], listed["members"]) == (
        app,
        "streams",
        "Stable",
        2,
    )
    assert listed["partitions"] == 6 and listed["lag"] == 0
    assert viewer_client.get(f"/api/clusters/local/groups/?type=classic&q={app}").json()["groups"] == []
    page = viewer_client.get(f"/clusters/local/groups/?type=streams&q={app}").content.decode()
    assert f"/clusters/local/streams-groups/{app}/" in page
    # Asked for as a consumer group (Kafka describes it as a Dead classic group), the API names its own route.
    elsewhere = viewer_client.get(f"/api/clusters/local/groups/{app}/")
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"] == (
        f"Group '{app}' is a streams group, not a consumer group: read it at /api/clusters/local/streams-groups/{app}/."
    )
    # Its API answer and its own page show what the collector made of it, as a consumer group's do.
    api = viewer_client.get(f"/api/clusters/local/streams-groups/{app}/").json()
    assert (api["status"], api["lag_seconds"], api["snapshot"]["stale"]) == ("OK", 0.0, False)
    assert {p["status"] for p in api["partitions"]} == {"OK"} and len(api["partitions"]) == 6
    assert all(m["host"] and not m["host"].startswith("/") for m in api["members"])
    page = viewer_client.get(f"/clusters/local/streams-groups/{app}/").content.decode()
    assert 'id="observed"' in page and 'id="group-status"' in page and ">OK<" in page
    assert "Lag history" in page and 'id="members"' in page and ">/127.0.0.1<" not in page
    assert 'aria-label="Breadcrumb"' in page and f"/ {app}</nav>" in page
    chart = viewer_client.get(
        f"/clusters/local/streams-groups/{app}/?range=6h",
        headers={"HX-Request": "true", "HX-Target": "history-chart"},
    )
    assert chart.status_code == 200 and 'id="history-chart"' in chart.content.decode()
    # Its share reset form refuses it as the preview would, leading to its own page and reset form.
    operator = Client()
    operator.force_login(make_user("streams-operator", "Operator"))
    form = operator.get(f"/clusters/local/share-reset/{app}/")
    assert form.status_code == 404
    body = html.unescape(form.content.decode())
    assert f"Group '{app}' exists on this cluster but is not a share group" in body and 'id="reset-form"' not in body
    assert f'href="/clusters/local/streams-groups/{app}/">open its page</a>' in body
    assert f'href="/clusters/local/reset/{app}/">reset its committed offsets</a>' in body


def test_a_group_that_is_not_a_streams_group_is_a_clear_404(viewer_client, cluster, kafka_bootstrap, unique):
    group, topic = unique("not-streams"), unique("not-streams-topic")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.commit(kafka_bootstrap, group, {(topic, 0): 1})
    response = viewer_client.get(f"/api/clusters/local/streams-groups/{group}/")
    assert response.status_code == 404
    assert "is not a streams group" in response.json()["error"] or "no streams group" in response.json()["error"]
    page = viewer_client.get(f"/clusters/local/streams-groups/{group}/")
    assert page.status_code == 404 and "streams group" in page.content.decode()
