"""Each share-group request version the console encodes itself (ShareGroupDescribe v1,
DescribeShareGroupOffsets v0 and v1, AlterShareGroupOffsets v0) is answered by the real broker as
Kafka's message definitions say, and the connection under them reaches a secured cluster."""

from __future__ import annotations

import uuid

import pytest

from groups.kafka import TP, ConsoleError, ShareClient, ShareGroupNotFound
from groups.kafka import share_protocol as wire
from groups.kafka.share_connection import BrokerConnection
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration]


def _read_all_then_leave(bootstrap: str, group: str, topic: str, count: int) -> None:
    reader = kt.ShareMember(bootstrap, group, [topic], client_id="reader")
    try:
        kt.wait_for(lambda: reader.received == count, timeout=60, what=f"the share consumer to get {count} records")
    finally:
        reader.stop()


@pytest.fixture
def idle_group(kafka_bootstrap, unique):
    """A share group that read a 2-partition topic (6 and 4 records) and left; 3 records arrived since."""
    topic, group = unique("share-topic"), unique("share-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.start_share_group_at_earliest(kafka_bootstrap, group)
    kt.produce(kafka_bootstrap, topic, {0: 6, 1: 4})
    _read_all_then_leave(kafka_bootstrap, group, topic, 10)
    client = ShareClient({"bootstrap.servers": kafka_bootstrap}, 10)
    kt.wait_for(lambda: client.describe(group).state == "Empty", what="the group to be Empty")
    kt.produce(kafka_bootstrap, topic, {1: 3})
    return {"topic": topic, "group": group, "client": client}


def _coordinator(bootstrap: str, group: str) -> BrokerConnection:
    host, port = bootstrap.rsplit(":", 1)
    with BrokerConnection(host, int(port), {}, 10) as first:
        coordinator = first.group_coordinator(group)
    return BrokerConnection(coordinator.host, coordinator.port, {}, 10)


def _topic_id(bootstrap: str, topic: str) -> uuid.UUID:
    from confluent_kafka import TopicCollection

    described = kt.admin(bootstrap).describe_topics(TopicCollection([topic]))[topic].result(timeout=30)
    topic_id = described.topic_id
    mask = (1 << 64) - 1
    return uuid.UUID(
        int=((topic_id.get_most_significant_bits() & mask) << 64) | (topic_id.get_least_significant_bits() & mask)
    )


def test_share_group_describe_v1_is_answered_with_members_and_assignments(kafka_bootstrap, unique):
    topic, group, missing = unique("share-topic"), unique("share-group"), unique("no-such-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    member = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="describe-me")
    try:
        client = ShareClient({"bootstrap.servers": kafka_bootstrap}, 10)

        def assigned() -> bool:
            try:
                return any(m.assignment for m in client.describe(group).members)
            except ShareGroupNotFound:
                return False

        kt.wait_for(assigned, what="the member to get partitions")
        with _coordinator(kafka_bootstrap, group) as connection:
            assert connection.supported(wire.SHARE_GROUP_DESCRIBE) == (1, 1)
            body = connection.call(wire.SHARE_GROUP_DESCRIBE, 1, wire.encode_share_group_describe([group, missing]))
        found, absent = wire.decode_share_group_describe(body)
    finally:
        member.stop()
    assert (found.error_code, found.group_id, found.state, found.assignor) == (0, group, "Stable", "simple")
    assert found.assignment_epoch == found.group_epoch >= 1
    (described,) = found.members
    assert (described.client_id, described.client_host, described.subscribed_topics) == (
        "describe-me",
        "/127.0.0.1",
        (topic,),
    )
    assert described.member_epoch == found.group_epoch and described.rack_id is None
    (assignment,) = described.assignment
    assert (assignment.topic, sorted(assignment.partitions)) == (topic, [0, 1])
    assert assignment.topic_id == _topic_id(kafka_bootstrap, topic)
    # The authorized operations were not asked for, and the broker says so with Integer.MIN_VALUE.
    assert found.authorized_operations == -(2**31)
    assert (absent.group_id, absent.error_code, absent.members) == (missing, 69, ())


def test_describe_share_group_offsets_v0_and_v1_give_the_same_start_offsets_and_v1_the_lag(kafka_bootstrap, idle_group):
    topic, group = idle_group["topic"], idle_group["group"]
    answers = {}
    with _coordinator(kafka_bootstrap, group) as connection:
        assert connection.supported(wire.DESCRIBE_SHARE_GROUP_OFFSETS) == (0, 1)
        for version in (0, 1):
            body = connection.call(
                wire.DESCRIBE_SHARE_GROUP_OFFSETS, version, wire.encode_describe_share_group_offsets({group: None})
            )
            (answers[version],) = wire.decode_describe_share_group_offsets(body, version)
        # A list of topics and partitions (not null) asks for those only.
        body = connection.call(
            wire.DESCRIBE_SHARE_GROUP_OFFSETS, 1, wire.encode_describe_share_group_offsets({group: {topic: [1]}})
        )
        (subset,) = wire.decode_describe_share_group_offsets(body, 1)

    def by_partition(offsets: wire.ShareGroupOffsets) -> dict[int, tuple[int, int, int]]:
        assert offsets.group_id == group and offsets.error_code == 0
        assert {p.topic_id for p in offsets.partitions} == {_topic_id(kafka_bootstrap, topic)}
        return {p.partition: (p.start_offset, p.lag, p.error_code) for p in offsets.partitions}

    v0, v1 = by_partition(answers[0]), by_partition(answers[1])
    assert {p: (start, err) for p, (start, _, err) in v0.items()} == {p: (s, e) for p, (s, _, e) in v1.items()}
    assert {p: lag for p, (_, lag, _) in v0.items()} == {0: -1, 1: -1}
    assert {p: lag for p, (_, lag, _) in v1.items()} == {0: 0, 1: 3}
    assert [(p.topic, p.partition) for p in subset.partitions] == [(topic, 1)]


def test_alter_share_group_offsets_v0_sets_start_offsets_that_kafka_share_groups_reads_back(
    kafka_bootstrap, idle_group
):
    topic, group, client = idle_group["topic"], idle_group["group"], idle_group["client"]
    client.alter_start_offsets(group, {TP(topic, 0): 2, TP(topic, 1): 7})

    tool = run_tool("share-groups", ["--describe", "--offsets", "--group", group], kafka_bootstrap)
    assert tool.returncode == 0, tool.stderr
    rows = {tuple(line.split()[1:3]): line.split()[3:] for line in tool.stdout.splitlines() if group in line}
    # Records 2..5 of partition 0 and nothing of partition 1 (7 is its log end) are left to deliver.
    assert rows == {(topic, "0"): ["2", "4"], (topic, "1"): ["7", "0"]}


def test_altering_an_active_share_group_is_refused_and_changes_nothing(kafka_bootstrap, idle_group):
    topic, group, client = idle_group["topic"], idle_group["group"], idle_group["client"]
    before = client.start_offsets(group)
    member = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="still-here")
    try:
        kt.wait_for(lambda: client.describe(group).state == "Stable", what="the group to be active")
        with pytest.raises(ConsoleError) as refused:
            client.alter_start_offsets(group, {TP(topic, 0): 0})
        kt.wait_for(lambda: member.received == 3, what="the member to get the 3 records produced since")
    finally:
        member.stop()
    assert refused.value.code == "NON_EMPTY_GROUP"
    assert refused.value.message.startswith(f"Share group '{group}' has active members")
    assert "Stop every share consumer of the group" in refused.value.message
    # Partition 0 is where it was; partition 1 moved only because the member read its 3 new records.
    after = {o.tp: o.start_offset for o in client.start_offsets(group)}
    assert after[TP(topic, 0)] == {o.tp: o.start_offset for o in before}[TP(topic, 0)]


def test_share_groups_are_read_over_sasl_ssl_with_the_clusters_credentials(kafka_bootstrap, secured_kafka, idle_group):
    config = {
        "bootstrap.servers": secured_kafka.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": secured_kafka.mechanism,
        "sasl.username": secured_kafka.username,
        "sasl.password": secured_kafka.password_file.read_text().strip(),
        "ssl.ca.location": str(secured_kafka.ca_file),
    }
    secured = ShareClient(config, 10)
    assert idle_group["group"] in {g.group_id for g in secured.list_share_groups()}
    state = secured.read(idle_group["group"])
    assert state.description.coordinator.startswith(secured_kafka.bootstrap)
    assert [o.tp.partition for o in state.offsets] == [0, 1]

    with pytest.raises(ConsoleError) as wrong:
        ShareClient({**config, "sasl.password": "not-the-password"}, 10).list_share_groups()
    assert wrong.value.message.startswith(f"Kafka at {secured_kafka.bootstrap} rejected the console's credentials")
    with pytest.raises(ConsoleError) as untrusted:
        ShareClient({**config, "ssl.ca.location": ""}, 10).list_share_groups()
    assert "does not trust the certificate" in untrusted.value.message


def test_an_unreachable_cluster_is_a_retriable_error_that_names_it():
    with pytest.raises(ConsoleError) as failed:
        ShareClient({"bootstrap.servers": "127.0.0.1:1"}, 2).list_share_groups()
    assert failed.value.retriable and failed.value.message.startswith("Kafka at 127.0.0.1:1 did not answer")
