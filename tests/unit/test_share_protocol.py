"""The share-group wire encoding without a broker: exact bytes for what the console sends, and answers
decoded field by field, including the ones a newer broker may add (tagged fields) and broken ones."""

from __future__ import annotations

import struct
import uuid

import pytest

from groups.kafka import share_protocol as wire

TOPIC_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def _s(text: str | None) -> bytes:
    """A compact (nullable) string: length + 1 as a varint (all lengths here fit in one byte), 0 for null."""
    if text is None:
        return b"\x00"
    data = text.encode()
    return bytes([len(data) + 1]) + data


def _n(count: int) -> bytes:
    """A compact array's length."""
    return bytes([count + 1])


TAGS = b"\x00"


def test_the_request_header_is_v2_for_flexible_requests_with_a_classic_client_id_string():
    assert wire.request_header(77, 1, 7, "kc", flexible=True) == b"\x00\x4d\x00\x01\x00\x00\x00\x07\x00\x02kc" + TAGS
    assert wire.request_header(17, 1, 7, "kc", flexible=False) == b"\x00\x11\x00\x01\x00\x00\x00\x07\x00\x02kc"


def test_share_group_describe_v1_asks_for_each_group_without_authorized_operations():
    assert wire.encode_share_group_describe(["a", "bc"]) == _n(2) + _s("a") + _s("bc") + b"\x00" + TAGS


def test_describe_share_group_offsets_asks_for_every_partition_with_a_null_topic_list():
    assert wire.encode_describe_share_group_offsets({"g": None}) == _n(1) + _s("g") + b"\x00" + TAGS + TAGS
    chosen = wire.encode_describe_share_group_offsets({"g": {"t": [2, 0]}})
    partitions = _n(2) + struct.pack(">ii", 2, 0)
    assert chosen == _n(1) + _s("g") + _n(1) + _s("t") + partitions + TAGS + TAGS + TAGS


def test_alter_share_group_offsets_v0_sends_each_partitions_new_start_offset_in_order():
    body = wire.encode_alter_share_group_offsets("g", {"t": {1: 70, 0: 5}})
    partitions = _n(2) + struct.pack(">iq", 0, 5) + TAGS + struct.pack(">iq", 1, 70) + TAGS
    assert body == _s("g") + _n(1) + _s("t") + partitions + TAGS + TAGS


def _described_group_bytes(*, extra_tag: bytes = TAGS) -> bytes:
    assignment = _n(1) + TOPIC_ID.bytes + _s("orders") + _n(2) + struct.pack(">ii", 0, 2) + TAGS + TAGS
    member = (
        _s("m-1")
        + _s(None)
        + struct.pack(">i", 5)
        + _s("share-a")
        + _s("/10.0.0.5")
        + _n(1)
        + _s("orders")
        + assignment
        + extra_tag
    )
    return (
        struct.pack(">h", 0)
        + _s(None)
        + _s("g")
        + _s("Stable")
        + struct.pack(">ii", 5, 5)
        + _s("simple")
        + _n(1)
        + member
        + struct.pack(">i", -(2**31))
        + TAGS
    )


def test_a_share_group_description_is_decoded_with_members_and_assignments():
    body = struct.pack(">i", 0) + _n(1) + _described_group_bytes() + TAGS
    (group,) = wire.decode_share_group_describe(body)
    assert (group.group_id, group.state, group.group_epoch, group.assignment_epoch, group.assignor) == (
        "g",
        "Stable",
        5,
        5,
        "simple",
    )
    (member,) = group.members
    assert (member.member_id, member.rack_id, member.member_epoch, member.client_id, member.client_host) == (
        "m-1",
        None,
        5,
        "share-a",
        "/10.0.0.5",
    )
    assert member.subscribed_topics == ("orders",)
    assert member.assignment == (wire.DescribedTopicPartitions(TOPIC_ID, "orders", (0, 2)),)


def test_tagged_fields_a_newer_broker_adds_are_skipped():
    # One tagged field (tag 3, 4 bytes) closing the member struct.
    tagged = b"\x01\x03\x04" + b"abcd"
    body = struct.pack(">i", 0) + _n(1) + _described_group_bytes(extra_tag=tagged) + TAGS
    (group,) = wire.decode_share_group_describe(body)
    assert group.members[0].client_id == "share-a"


def _offsets_body(version: int) -> bytes:
    partition = struct.pack(">iqi", 1, 40, 3)
    if version >= 1:
        partition += struct.pack(">q", 12)
    partition += struct.pack(">h", 0) + _s(None) + TAGS
    unknown = struct.pack(">iqi", 2, -1, -1) + (struct.pack(">q", -1) if version >= 1 else b"")
    unknown += struct.pack(">h", 0) + _s(None) + TAGS
    topic = _s("orders") + TOPIC_ID.bytes + _n(2) + partition + unknown + TAGS
    group = _s("g") + _n(1) + topic + struct.pack(">h", 0) + _s(None) + TAGS
    return struct.pack(">i", 0) + _n(1) + group + TAGS


@pytest.mark.parametrize(("version", "lag"), [(0, -1), (1, 12)])
def test_share_group_offsets_are_decoded_with_the_lag_only_from_v1(version, lag):
    (group,) = wire.decode_describe_share_group_offsets(_offsets_body(version), version)
    first, second = group.partitions
    assert (first.topic, first.topic_id, first.partition, first.start_offset, first.leader_epoch, first.lag) == (
        "orders",
        TOPIC_ID,
        1,
        40,
        3,
        lag,
    )
    assert (second.partition, second.start_offset, second.lag) == (2, -1, -1)


def test_alter_results_carry_each_partitions_error():
    partitions = _n(2) + struct.pack(">ih", 0, 0) + _s(None) + TAGS + struct.pack(">ih", 1, 3) + _s("gone") + TAGS
    topic = _s("orders") + TOPIC_ID.bytes + partitions + TAGS
    body = struct.pack(">ih", 0, 0) + _s(None) + _n(1) + topic + TAGS
    result = wire.decode_alter_share_group_offsets(body)
    assert result.error_code == 0
    assert result.partitions == (
        wire.AlteredPartition("orders", 0, 0, None),
        wire.AlteredPartition("orders", 1, 3, "gone"),
    )


@pytest.mark.parametrize("cut", [3, 10, 40])
def test_a_truncated_answer_is_malformed_not_a_crash(cut):
    body = struct.pack(">i", 0) + _n(1) + _described_group_bytes() + TAGS
    with pytest.raises(wire.MalformedResponse):
        wire.decode_share_group_describe(body[:cut])


def test_an_answer_read_as_another_version_or_with_bytes_left_over_is_malformed():
    with pytest.raises(wire.MalformedResponse):
        wire.decode_describe_share_group_offsets(_offsets_body(1), 0)
    with pytest.raises(wire.MalformedResponse, match="left over"):
        wire.decode_describe_share_group_offsets(_offsets_body(1) + b"\x00", 1)


def test_the_response_header_carries_tagged_fields_only_when_flexible():
    assert wire.response_body(struct.pack(">i", 9) + TAGS + b"body", flexible_header=True) == (9, b"body")
    assert wire.response_body(struct.pack(">i", 9) + b"body", flexible_header=False) == (9, b"body")
