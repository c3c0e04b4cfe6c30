"""ConsumerGroupDescribe (KIP-848) without a broker: the exact request bytes, answers of v0 and v1 decoded
field by field (tagged fields a newer broker adds skipped, a short answer refused), and what the console
makes of a member whose current assignment is not its target."""

from __future__ import annotations

import struct
import uuid

import pytest

from groups.kafka import TP, ConsoleError, GroupDescription
from groups.kafka import consumer_groups as groups
from groups.kafka import consumer_protocol as wire
from groups.kafka.share_connection import Broker
from groups.kafka.share_protocol import MalformedResponse

TOPIC_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
TAGS = b"\x00"


def _s(text: str | None) -> bytes:
    """A compact nullable string: length + 1 as a varint (one byte for these), 0 for null."""
    if text is None:
        return b"\x00"
    data = text.encode()
    return bytes([len(data) + 1]) + data


def _n(count: int) -> bytes:
    return bytes([count + 1])


def _assignment(topic: str, partitions: list[int]) -> bytes:
    if not partitions:
        return _n(0) + TAGS
    return (
        _n(1)
        + TOPIC_ID.bytes
        + _s(topic)
        + _n(len(partitions))
        + struct.pack(f">{len(partitions)}i", *partitions)
        + TAGS
        + TAGS
    )


def _member(version: int, *, regex: str | None = None, member_type: int = 1, extra_tag: bytes = TAGS) -> bytes:
    return (
        _s("m-1")
        + _s("instance-a")
        + _s("rack-1")
        + struct.pack(">i", 4)
        + _s("orders-app")
        + _s("/10.0.0.5")
        + _n(1)
        + _s("orders")
        + _s(regex)
        + _assignment("orders", [0, 1, 2])
        + _assignment("orders", [0, 2])
        + (struct.pack(">b", member_type) if version >= 1 else b"")
        + extra_tag
    )


def _response(version: int, member: bytes | None = None) -> bytes:
    group = (
        struct.pack(">h", 0)
        + _s(None)
        + _s("g")
        + _s("Reconciling")
        + struct.pack(">ii", 5, 5)
        + _s("uniform")
        + _n(1)
        + (member if member is not None else _member(version))
        + struct.pack(">i", -(2**31))
        + TAGS
    )
    missing = (
        struct.pack(">h", 69)
        + _s("Group h is not a consumer group.")
        + _s("h")
        + _s("")
        + struct.pack(">ii", 0, 0)
        + _s("")
        + _n(0)
        + struct.pack(">i", -(2**31))
        + TAGS
    )
    return struct.pack(">i", 0) + _n(2) + group + missing + TAGS


def test_the_request_names_each_group_and_asks_for_no_authorized_operations():
    assert wire.encode_consumer_group_describe(["g", "hi"]) == _n(2) + _s("g") + _s("hi") + b"\x00" + TAGS


@pytest.mark.parametrize("version", [0, 1])
def test_a_response_is_decoded_with_epochs_subscriptions_and_both_assignments(version):
    described, missing = wire.decode_consumer_group_describe(_response(version), version)
    assert (described.group_id, described.state, described.group_epoch, described.assignment_epoch) == (
        "g",
        "Reconciling",
        5,
        5,
    )
    assert described.assignor == "uniform" and described.error_code == 0
    (member,) = described.members
    assert (member.member_id, member.instance_id, member.rack_id, member.member_epoch) == (
        "m-1",
        "instance-a",
        "rack-1",
        4,
    )
    assert (member.client_id, member.client_host, member.subscribed_topic_names) == (
        "orders-app",
        "/10.0.0.5",
        ("orders",),
    )
    assert member.subscribed_topic_regex is None
    assert [(t.topic_id, t.topic, t.partitions) for t in member.assignment] == [(TOPIC_ID, "orders", (0, 1, 2))]
    assert [(t.topic, t.partitions) for t in member.target_assignment] == [("orders", (0, 2))]
    # v0 has no member type: it reads as unknown.
    assert member.member_type == (1 if version == 1 else -1)
    assert (missing.group_id, missing.error_code, missing.error_message) == (
        "h",
        69,
        "Group h is not a consumer group.",
    )


def test_a_regex_subscription_and_a_classic_member_are_read_from_v1():
    (described, _) = wire.decode_consumer_group_describe(_response(1, _member(1, regex="orders-.*", member_type=0)), 1)
    assert described.members[0].subscribed_topic_regex == "orders-.*"
    assert wire.MEMBER_TYPES[described.members[0].member_type] == "classic"


def test_tagged_fields_a_newer_broker_adds_are_skipped():
    unknown_tag = b"\x01" + b"\x05" + b"\x02" + b"hi"  # one field, tag 5, two bytes
    (described, _) = wire.decode_consumer_group_describe(_response(1, _member(1, extra_tag=unknown_tag)), 1)
    assert described.members[0].member_id == "m-1"


@pytest.mark.parametrize("version", [0, 1])
def test_an_answer_cut_short_or_read_as_the_wrong_version_is_refused(version):
    body = _response(version)
    with pytest.raises(MalformedResponse):
        wire.decode_consumer_group_describe(body[:-3], version)
    with pytest.raises(MalformedResponse):
        wire.decode_consumer_group_describe(body, 1 - version)


def test_a_version_the_console_does_not_speak_is_refused_before_reading():
    with pytest.raises(ValueError, match="v2"):
        wire.decode_consumer_group_describe(_response(1), 2)


def _member_value(assignment: tuple[TP, ...], target: tuple[TP, ...]) -> groups.ConsumerProtocolMember:
    return groups.ConsumerProtocolMember(
        "m", None, None, "c", "/10.0.0.5", 3, "consumer", ("t",), None, assignment, target
    )


def test_a_member_whose_assignment_is_not_its_target_is_reconciling_and_says_what_moves():
    holder = _member_value((TP("t", 0), TP("t", 1), TP("t", 2)), (TP("t", 0), TP("t", 1)))
    newcomer = _member_value((), (TP("t", 2),))
    settled = _member_value((TP("t", 1), TP("t", 0)), (TP("t", 0), TP("t", 1)))
    assert (holder.reconciling, holder.to_revoke, holder.to_receive) == (True, (TP("t", 2),), ())
    assert (newcomer.reconciling, newcomer.to_revoke, newcomer.to_receive) == (True, (), (TP("t", 2),))
    assert not settled.reconciling and settled.display_host == "10.0.0.5"


def test_the_decoded_group_becomes_console_values_sorted_by_client_id():
    (described, _) = wire.decode_consumer_group_describe(_response(1), 1)
    group = groups.to_group(described, Broker(1, "kafka-1", 9092))
    assert group.coordinator == "kafka-1:9092 (1)" and group.is_active
    (member,) = group.members
    assert member.assignment == (TP("orders", 0), TP("orders", 1), TP("orders", 2))
    assert member.target_assignment == (TP("orders", 0), TP("orders", 2))
    assert group.reconciling_members == (member,) and member.member_type == "consumer"


def _description(group_id: str, state: str, kind: str) -> GroupDescription:
    return GroupDescription(group_id, state, kind, "", "-", ())


def test_true_states_ask_only_for_consumer_groups_librdkafka_calls_unknown(monkeypatch):
    asked = []

    def describe_many(self, group_ids):
        asked.append(sorted(group_ids))
        return {"reconciling": groups.ConsumerProtocolGroup("reconciling", "Reconciling", 4, 4, "uniform", "-", ())}

    monkeypatch.setattr(groups.ConsumerGroupClient, "describe_many", describe_many)
    descriptions = {
        "reconciling": _description("reconciling", "Unknown", "consumer"),
        "gone-meanwhile": _description("gone-meanwhile", "Unknown", "consumer"),
        "classic": _description("classic", "Unknown", "classic"),
        "stable": _description("stable", "Stable", "consumer"),
    }
    found = groups.with_true_states({"bootstrap.servers": "x:1"}, 1, descriptions)
    assert asked == [["gone-meanwhile", "reconciling"]]
    assert {g: d.state for g, d in found.items()} == {
        "reconciling": "Reconciling",
        "gone-meanwhile": "Unknown",
        "classic": "Unknown",
        "stable": "Stable",
    }
    assert all(d.is_active for g, d in found.items())


def test_when_the_coordinator_cannot_answer_unknown_stays_and_counts_as_active(monkeypatch):
    def describe_many(self, group_ids):
        raise ConsoleError("Kafka at x:1 did not answer.", code="_TRANSPORT", retriable=True)

    monkeypatch.setattr(groups.ConsumerGroupClient, "describe_many", describe_many)
    descriptions = {"g": _description("g", "Unknown", "consumer")}
    found = groups.with_true_states({"bootstrap.servers": "x:1"}, 1, descriptions)
    assert found["g"].state == "Unknown" and found["g"].is_active
