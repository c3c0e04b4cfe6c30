"""KIP-848 (`consumer` protocol) groups against the real broker: ConsumerGroupDescribe v0 and v1 as the
broker answers them, and the group page and API equal to Apache Kafka's own `kafka-consumer-groups
--describe --state --verbose` and `--describe --members --verbose` on the same group, caught while it
is Reconciling (which librdkafka reports as Unknown)."""

from __future__ import annotations

import html
import re
import time
import uuid

import pytest
from confluent_kafka import Consumer

from groups.kafka import TP, GroupDescription, client_for
from groups.kafka import consumer_protocol as wire
from groups.kafka.consumer_groups import (
    ConsumerGroupClient,
    NotAConsumerProtocolGroup,
    request_version,
    with_true_states,
)
from groups.kafka.share_connection import BrokerConnection
from groups.operations import resets
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.engine_neutral("what is checked is how KIP-848 groups read from Kafka"),
]


def _tables(stdout: str) -> list[dict[str, str]]:
    """Rows of the tool's fixed-width tables, cut where the header's columns start: a cell may be empty
    (GROUP-INSTANCE-ID of a member without one), so splitting on blanks would shift the columns."""
    rows, columns = [], []
    for line in stdout.splitlines():
        if line.startswith("GROUP "):
            columns = [(m.group(), m.start()) for m in re.finditer(r"COORDINATOR \(ID\)|\S+", line)]
        elif columns and line.strip():
            ends = [start for _, start in columns[1:]] + [len(line)]
            rows.append({name: line[start:end].strip() for (name, start), end in zip(columns, ends, strict=True)})
    return rows


def _tool(bootstrap: str, group: str, *args: str) -> list[dict[str, str]]:
    result = run_tool("consumer-groups", ["--describe", *args, "--verbose", "--group", group], bootstrap)
    assert result.returncode == 0 and "Error" not in result.stdout, result.stdout + result.stderr
    return _tables(result.stdout)


def _assignment_text(partitions: list[dict]) -> str:
    """An assignment as the tool prints it: 'orders:0,2;payments:1', or '-' when empty."""
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp["topic"], []).append(tp["partition"])
    return ";".join(f"{t}:{','.join(map(str, sorted(p)))}" for t, p in sorted(by_topic.items())) or "-"


@pytest.fixture(scope="module")
def reconciling(kafka_bootstrap):
    """A KIP-848 group held in Reconciling: 'holder' (static, in rack-a) was given all 3 partitions and then
    stopped polling, so it never revokes the one the coordinator now targets at 'newcomer', which joined
    with a regex subscription and waits for it."""
    b = kafka_bootstrap
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"kip848-{suffix}", f"kip848-group-{suffix}"
    kt.create_topic(b, topic, 3)
    holder = Consumer(
        {
            "bootstrap.servers": b,
            "group.id": group,
            "group.protocol": "consumer",
            "client.id": "holder",
            "client.rack": "rack-a",
            "group.instance.id": f"holder-{suffix}",
        }
    )
    holder.subscribe([topic])
    deadline = time.monotonic() + 30
    while len(holder.assignment()) < 3 and time.monotonic() < deadline:
        holder.poll(0.2)
    assert len(holder.assignment()) == 3, "holder got no partitions in time"
    newcomer = kt.Member(b, group, [f"^kip848-{suffix}$"], protocol="consumer", client_id="newcomer")
    describe = ConsumerGroupClient({"bootstrap.servers": b}, 10).describe
    try:
        kt.wait_for(
            lambda: describe(group).state == "Reconciling" and len(describe(group).members) == 2,
            what="the group to be Reconciling with both members",
        )
        # librdkafka joins a subscription's patterns into one regex, each in parentheses.
        yield {"topic": topic, "group": group, "regex": f"(^kip848-{suffix}$)", "instance": f"holder-{suffix}"}
    finally:
        newcomer.stop()
        holder.close()


def _coordinator(bootstrap: str, group: str) -> BrokerConnection:
    host, port = bootstrap.rsplit(":", 1)
    with BrokerConnection(host, int(port), {}, 10) as first:
        coordinator = first.group_coordinator(group)
    return BrokerConnection(coordinator.host, coordinator.port, {}, 10)


def test_consumer_group_describe_v0_and_v1_are_answered_alike_and_v1_adds_the_member_type(
    kafka_bootstrap, reconciling, unique
):
    group, topic, missing = reconciling["group"], reconciling["topic"], unique("no-such-group")
    classic = unique("classic-group")
    kt.commit(kafka_bootstrap, classic, {(topic, 0): 0})
    answers = {}
    with _coordinator(kafka_bootstrap, group) as connection:
        assert connection.supported(wire.CONSUMER_GROUP_DESCRIBE) == (0, 1)
        assert request_version(connection, "testing") == 1
        for version in wire.VERSIONS:
            body = connection.call(
                wire.CONSUMER_GROUP_DESCRIBE, version, wire.encode_consumer_group_describe([group, missing, classic])
            )
            answers[version] = wire.decode_consumer_group_describe(body, version)
    for version, (found, absent, other) in answers.items():
        assert (found.error_code, found.group_id, found.state, found.assignor) == (0, group, "Reconciling", "uniform")
        assert found.authorized_operations == -(2**31)  # not asked for
        holder = next(m for m in found.members if m.client_id == "holder")
        assert (holder.instance_id, holder.rack_id, holder.subscribed_topic_names) == (
            reconciling["instance"],
            "rack-a",
            (topic,),
        )
        newcomer = next(m for m in found.members if m.client_id == "newcomer")
        assert newcomer.subscribed_topic_regex == reconciling["regex"] and newcomer.instance_id is None
        assert [m.member_type for m in found.members] == ([1, 1] if version == 1 else [-1, -1])
        assert (absent.group_id, absent.error_code) == (missing, 69)
        assert (other.error_code, other.error_message) == (69, f"Group {classic} is not a consumer group.")
    strip = [(g.group_id, g.state, g.group_epoch, g.assignment_epoch) for g in answers[0]]
    assert strip == [(g.group_id, g.state, g.group_epoch, g.assignment_epoch) for g in answers[1]]


def test_state_epochs_and_assignor_equal_the_tools_describe_state_verbose(
    viewer_client, cluster, kafka_bootstrap, reconciling
):
    group = reconciling["group"]
    response = viewer_client.get(f"/clusters/local/groups/{group}/")
    assert response.status_code == 200
    body = response.content.decode()
    (tool,) = _tool(kafka_bootstrap, group, "--state")
    assert tool["STATE"] == "Reconciling"
    # librdkafka calls this state Unknown; the page's own state and the protocol section both say the truth.
    assert f'id="group-state">{tool["STATE"]}<' in body
    assert f'id="protocol-state">{tool["STATE"]}<' in body
    assert f'id="group-epoch">{tool["GROUP-EPOCH"]}<' in body
    assert f'id="assignment-epoch">{tool["TARGET-ASSIGNMENT-EPOCH"]}<' in body
    assert f'id="server-assignor">{tool["ASSIGNMENT-STRATEGY"]}<' in body
    protocol = response.context["group_protocol"]
    assert len(protocol.members) == int(tool["#MEMBERS"])
    assert " ".join(tool["COORDINATOR (ID)"].split()) == protocol.coordinator
    assert "this client cannot name" not in body

    api = viewer_client.get(f"/api/clusters/local/groups/{group}/").json()
    assert api["state"] == api["consumer_protocol"]["state"] == tool["STATE"]
    assert str(api["consumer_protocol"]["group_epoch"]) == tool["GROUP-EPOCH"]
    assert str(api["consumer_protocol"]["assignment_epoch"]) == tool["TARGET-ASSIGNMENT-EPOCH"]
    assert api["consumer_protocol"]["assignor"] == tool["ASSIGNMENT-STRATEGY"]


def test_members_equal_the_tools_describe_members_verbose(viewer_client, cluster, kafka_bootstrap, reconciling):
    group, topic = reconciling["group"], reconciling["topic"]
    api = viewer_client.get(f"/api/clusters/local/groups/{group}/").json()["consumer_protocol"]
    tool = {row["CONSUMER-ID"]: row for row in _tool(kafka_bootstrap, group, "--members")}
    assert set(tool) == {m["member_id"] for m in api["members"]}
    for member in api["members"]:
        row = tool[member["member_id"]]
        # The API gives hosts without Java's leading slash, as for the group's other members.
        assert row["HOST"] == f"/{member['host']}" and row["CLIENT-ID"] == member["client_id"]
        assert row["GROUP-INSTANCE-ID"] == (member["instance_id"] or "")
        assert row["#PARTITIONS"] == str(len(member["assignment"]))
        assert row["CURRENT-EPOCH"] == str(member["member_epoch"])
        assert row["CURRENT-ASSIGNMENT"] == _assignment_text(member["assignment"])
        assert row["TARGET-EPOCH"] == str(api["assignment_epoch"])
        assert row["TARGET-ASSIGNMENT"] == _assignment_text(member["target_assignment"])
    by_client = {m["client_id"]: m for m in api["members"]}
    holder, newcomer = by_client["holder"], by_client["newcomer"]
    assert (holder["rack"], holder["subscribed_topics"], holder["member_type"]) == ("rack-a", [topic], "consumer")
    assert newcomer["subscribed_regex"] == reconciling["regex"]
    # The partition the newcomer waits for is the one the holder has yet to give up.
    (moving,) = {(tp["topic"], tp["partition"]) for tp in newcomer["target_assignment"]}
    assert moving in {(tp["topic"], tp["partition"]) for tp in holder["assignment"]}
    assert holder["reconciling"] and newcomer["reconciling"] and newcomer["assignment"] == []


def test_the_page_highlights_reconciling_members_and_what_they_wait_for(viewer_client, cluster, reconciling):
    group = reconciling["group"]
    response = viewer_client.get(f"/clusters/local/groups/{group}/")
    body = response.content.decode()
    protocol = response.context["group_protocol"]
    assert 'id="reconciling-count">2<' in body and 'id="protocol-explained"' in body
    for member in protocol.members:
        assert f'<tr data-member="{html.escape(member.member_id)}" class="reconciling">' in body
    holder = next(m for m in protocol.members if m.client_id == "holder")
    (moving,) = holder.to_revoke
    assert f"reconciling: revokes {moving.topic}:{moving.partition}</div>" in body
    assert f"waits for {moving.topic}:{moving.partition}</div>" in body
    assert f"/{html.escape(reconciling['regex'])}/" in body and ">rack-a<" in body
    # The live fragment carries the protocol section too: its state moves.
    fragment = viewer_client.get(f"/clusters/local/groups/{group}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="protocol-state">Reconciling<' in fragment


def test_the_active_checks_see_the_true_state_and_refuse_a_reset(cluster, reconciling):
    group = reconciling["group"]
    client = client_for(cluster)
    description = client.describe_groups([group])[group]
    assert (description.type, description.state, description.is_active) == ("consumer", "Reconciling", True)
    preview = resets.preview_reset(client, group, "to-earliest")
    assert preview.blocked_reason is not None
    assert preview.blocked_reason.startswith(f"Group '{group}' is Reconciling with 2 members")


def test_a_settled_group_is_stable_with_every_member_at_its_target(viewer_client, cluster, kafka_bootstrap, unique):
    topic, group = unique("kip848-stable"), unique("kip848-stable-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    members = [kt.Member(kafka_bootstrap, group, [topic], protocol="consumer", client_id=f"c{i}") for i in range(2)]
    describe = ConsumerGroupClient({"bootstrap.servers": kafka_bootstrap}, 10).describe

    def settled() -> bool:
        try:
            found = describe(group)
        except NotAConsumerProtocolGroup:  # before the first member's heartbeat
            return False
        return found.state == "Stable" and len(found.members) == 2 and all(m.assignment for m in found.members)

    try:
        kt.wait_for(settled, what="the group to settle")
        (state,) = _tool(kafka_bootstrap, group, "--state")
        api = viewer_client.get(f"/api/clusters/local/groups/{group}/").json()["consumer_protocol"]
        tool = {row["CONSUMER-ID"]: row for row in _tool(kafka_bootstrap, group, "--members")}
    finally:
        for member in members:
            member.stop()
    assert (api["state"], str(api["group_epoch"]), str(api["assignment_epoch"])) == (
        state["STATE"],
        state["GROUP-EPOCH"],
        state["TARGET-ASSIGNMENT-EPOCH"],
    )
    assert {m["member_id"]: _assignment_text(m["assignment"]) for m in api["members"]} == {
        c: row["CURRENT-ASSIGNMENT"] for c, row in tool.items()
    }
    assert not any(m["reconciling"] for m in api["members"])
    assert all(str(m["member_epoch"]) == row["TARGET-EPOCH"] for m in api["members"] for row in [tool[m["member_id"]]])
    assert sorted(TP(tp["topic"], tp["partition"]) for m in api["members"] for tp in m["assignment"]) == [
        TP(topic, 0),
        TP(topic, 1),
    ]


def test_a_classic_group_page_has_no_protocol_section_and_its_api_no_protocol_object(
    viewer_client, cluster, kafka_bootstrap, unique
):
    topic, group = unique("classic-topic"), unique("classic-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    member = kt.Member(kafka_bootstrap, group, [topic], client_id="classic-app")
    try:
        member.wait_assigned()
        response = viewer_client.get(f"/clusters/local/groups/{group}/")
        api = viewer_client.get(f"/api/clusters/local/groups/{group}/").json()
    finally:
        member.stop()
    body = response.content.decode()
    assert 'id="group-state">Stable<' in body and "classic-app" in body
    assert 'id="group-protocol' not in body and "group_protocol" not in response.context
    assert "consumer_protocol" not in api and api["protocol_type"] == "classic"
    with pytest.raises(NotAConsumerProtocolGroup, match="classic protocol"):
        ConsumerGroupClient({"bootstrap.servers": kafka_bootstrap}, 10).describe(group)


def test_the_coordinator_is_asked_over_sasl_ssl_with_the_clusters_credentials(secured_kafka, reconciling):
    config = {
        "bootstrap.servers": secured_kafka.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": secured_kafka.mechanism,
        "sasl.username": secured_kafka.username,
        "sasl.password": secured_kafka.password_file.read_text().strip(),
        "ssl.ca.location": str(secured_kafka.ca_file),
    }
    group = ConsumerGroupClient(config, 10).describe(reconciling["group"])
    assert group.state == "Reconciling" and group.coordinator.startswith(secured_kafka.bootstrap)
    refused = {reconciling["group"]: GroupDescription(reconciling["group"], "Unknown", "consumer", "", "-", ())}
    kept = with_true_states({**config, "sasl.password": "not-the-password"}, 5, refused)
    assert kept[reconciling["group"]].state == "Unknown"


def test_a_coordinator_that_cannot_be_reached_leaves_unknown_which_counts_as_active(reconciling):
    group = reconciling["group"]
    unknown = {group: GroupDescription(group, "Unknown", "consumer", "", "-", ())}
    kept = with_true_states({"bootstrap.servers": "127.0.0.1:1"}, 2, unknown)[group]
    assert kept.state == "Unknown" and kept.is_active
