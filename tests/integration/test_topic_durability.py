"""Topic durability against the real (single) broker: the replicas, in-sync replicas, leaders and settings
the console reads equal what Apache Kafka's `kafka-topics --describe` prints, and the topic page and the
group page flag what a broker restart can cost: min.insync.replicas above the in-sync replicas, RF 1,
unclean leader election; retention is shown with what it means."""

from __future__ import annotations

import html

import pytest

from groups.kafka import client_for
from groups.kafka.durability import read_replication
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.engine_neutral("topic settings read from Kafka"),
]


@pytest.fixture
def topics(kafka_bootstrap, unique):
    """'short': RF 1 (one broker) with min.insync.replicas=2, so every partition is under its min ISR;
    'unclean': RF 1 with unclean leader election on and an hour's retention set on the topic."""
    short, unclean = unique("durability-short"), unique("durability-unclean")
    kt.create_topic(kafka_bootstrap, short, 2, config={"min.insync.replicas": "2"})
    kt.create_topic(
        kafka_bootstrap,
        unclean,
        1,
        config={"unclean.leader.election.enable": "true", "retention.ms": "3600000", "retention.bytes": "1073741824"},
    )
    return {"short": short, "unclean": unclean}


def _kafka_topics_describe(bootstrap: str, topic: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The tool's topic line (its Configs split into settings) and one dict per partition line."""
    result = run_tool("topics", ["--describe", "--topic", topic], bootstrap)
    assert result.returncode == 0, result.stdout + result.stderr
    head, *partition_lines = [line for line in result.stdout.splitlines() if line.strip()]

    def fields(line: str) -> dict[str, str]:
        return dict(
            field.split(": ", 1) if ": " in field else (field.rstrip(":"), "") for field in line.strip().split("\t")
        )

    topic_fields = fields(head)
    configs = dict(pair.split("=", 1) for pair in topic_fields.pop("Configs").split(",") if pair)
    return {**topic_fields, **configs}, [fields(line) for line in partition_lines]


def test_replicas_isr_leaders_and_settings_equal_kafka_topics_describe(cluster, kafka_bootstrap, topics, unique):
    missing = unique("no-such-topic")
    found = read_replication(client_for(cluster), [topics["short"], topics["unclean"], missing])
    assert set(found) == {topics["short"], topics["unclean"]}  # a missing topic is left out
    for name, facts in found.items():
        tool, partitions = _kafka_topics_describe(kafka_bootstrap, name)
        assert len(facts.partitions) == int(tool["PartitionCount"])
        assert {len(p.replicas) for p in facts.partitions} == {int(tool["ReplicationFactor"])}
        assert [
            (str(p.partition), str(p.leader), ",".join(map(str, p.replicas)), ",".join(map(str, p.isr)))
            for p in facts.partitions
        ] == [(row["Partition"], row["Leader"], row["Replicas"], row["Isr"]) for row in partitions]
        # The tool lists the settings that are not Kafka's own defaults; the console reads the same values.
        assert "min.insync.replicas" in tool
        for setting, value in tool.items():
            if setting in facts.settings:
                assert facts.settings[setting].value == value, setting
    unclean = found[topics["unclean"]].settings
    assert unclean["unclean.leader.election.enable"].value == "true"
    assert unclean["retention.ms"].set_on_topic and not found[topics["short"]].settings["retention.ms"].set_on_topic


def test_the_topic_page_flags_min_insync_replicas_above_the_in_sync_replicas(viewer_client, cluster, topics):
    response = viewer_client.get(f"/clusters/local/topics/{topics['short']}/")
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    judged = response.context["topic_durability"]
    assert judged.under_min_isr == (0, 1) and judged.worst.title == "Under min ISR"
    assert (
        "acks=all writes to partitions 0, 1 fail while ISR (1) < min.insync.replicas (2); writes with acks=0 or 1 "
        "still land on the leader alone and are lost if it fails."
    ) in body
    assert body.count('<span class="badge level-danger">Under min ISR</span>') == 3  # the finding, each partition
    assert (
        "A broker restart makes each partition unavailable, and a crash or a lost disk loses its records: "
        "there is no other copy." in body
    )
    assert "min.insync.replicas (2) is above the replication factor (1)" in body
    setting = (
        '<tr data-setting="min.insync.replicas"><td class="mono">min.insync.replicas</td><td class="mono value">2</td>'
    )
    assert setting + '<td class="muted">the topic</td>' in body


def test_the_topic_page_flags_unclean_election_and_shows_retention_with_its_meaning(viewer_client, cluster, topics):
    body = html.unescape(viewer_client.get(f"/clusters/local/topics/{topics['unclean']}/").content.decode())
    assert (
        '<span class="badge level-danger">Unclean leader election</span> After a restart an out-of-sync replica' in body
    )
    assert (
        "Records older than 1 hour are deleted, read or not: a group stopped longer than that never reads them." in body
    )
    assert "Each partition keeps at most 1 GiB; older records are deleted, read or not." in body
    assert '<td class="mono value">3600000</td><td class="muted">the topic</td>' in body


def test_the_group_page_summarises_the_worst_finding_of_each_topic_it_reads(
    viewer_client, cluster, kafka_bootstrap, topics, unique
):
    group = unique("durability-group")
    kt.produce(kafka_bootstrap, topics["unclean"], {0: 3})
    kt.commit(kafka_bootstrap, group, {(topics["short"], 0): 0, (topics["unclean"], 0): 2})
    response = viewer_client.get(f"/clusters/local/groups/{group}/")
    body = html.unescape(response.content.decode())
    summary = {t.topic: t for t in response.context["durability"]}
    assert set(summary) == {topics["short"], topics["unclean"]}
    assert summary[topics["short"]].worst.title == "Under min ISR"
    assert summary[topics["unclean"]].worst.title == "Unclean leader election"
    row = body[body.index(f'<tr data-topic="{topics["short"]}">') :]
    assert '<td class="num under-min-isr">2</td>' in row[: row.index("</tr>")]
    row = body[body.index(f'<tr data-topic="{topics["unclean"]}">') :]
    row = row[: row.index("</tr>")]
    assert '<td class="unclean"><span class="bad">enabled</span></td>' in row
    assert '<td class="retention">1 hour or 1 GiB</td>' in row
    # The live refresh every 5 s leaves these settings alone: they were read once with the page.
    refreshed = viewer_client.get(f"/clusters/local/groups/{group}/", HTTP_HX_REQUEST="true")
    assert "durability" not in refreshed.context and 'id="durability' not in refreshed.content.decode()
