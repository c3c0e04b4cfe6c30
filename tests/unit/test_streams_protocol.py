"""The StreamsGroupDescribe v0 wire encoding without a broker: the request's exact bytes, and answers
decoded field by field: a null topology, an endpoint's unsigned port, tagged fields a newer broker may
add, and a garbled answer refused."""

from __future__ import annotations

import struct

import pytest

from groups.kafka import TP
from groups.kafka import streams_protocol as wire
from groups.kafka.share_protocol import MalformedResponse
from groups.kafka.streams import StreamsGroupDescription

TAGS = b"\x00"
ONE_TAG = b"\x01\x05\x02xy"  # one unknown tagged field (tag 5, two bytes)


def _s(text: str | None) -> bytes:
    if text is None:
        return b"\x00"
    data = text.encode()
    return bytes([len(data) + 1]) + data


def _n(count: int) -> bytes:
    return bytes([count + 1])


def _i16(v: int) -> bytes:
    return struct.pack(">h", v)


def _i32(v: int) -> bytes:
    return struct.pack(">i", v)


def _i64(v: int) -> bytes:
    return struct.pack(">q", v)


def _tasks(subtopology: str, partitions: list[int]) -> bytes:
    return _s(subtopology) + _n(len(partitions)) + b"".join(map(_i32, partitions)) + TAGS


def _assignment(active: bytes = b"", count: int = 0) -> bytes:
    return _n(count) + active + _n(0) + _n(0) + TAGS


def _member(*, endpoint: bool) -> bytes:
    return (
        _s("m-1")
        + _i32(7)
        + _s(None)  # instance id
        + _s("rack-a")
        + _s("app-StreamThread-1-consumer")
        + _s("/10.0.0.5")
        + _i32(0)  # topology epoch
        + _s("process-1")
        + ((b"\x01" + _s("iq.local") + struct.pack(">H", 50000) + TAGS) if endpoint else b"\xff")
        + _n(1)
        + _s("zone")
        + _s("a")
        + TAGS  # client tags
        + _n(1)
        + _s("1")
        + _i32(2)
        + _i64(40)
        + TAGS  # task offsets
        + _n(0)  # task end offsets
        + _assignment(_tasks("0", [0, 2]) + _tasks("1", [1]), 2)
        + _assignment()
        + b"\x00"  # is classic
        + ONE_TAG
    )


def _topic_info(name: str, partitions: int) -> bytes:
    return _s(name) + _i32(partitions) + _i16(-1) + _n(1) + _s("cleanup.policy") + _s("compact") + TAGS + TAGS


def _group(*, topology: bool) -> bytes:
    body = _i16(0) + _s(None) + _s("wc") + _s("Stable") + _i32(7) + _i32(7)
    if topology:
        body += (
            b"\x01"
            + _i32(0)
            + _n(2)
            + _s("0")
            + _n(1)
            + _s("lines")
            + _n(1)
            + _s("wc-rep")
            + _n(0)
            + _n(0)
            + TAGS
            + _s("1")
            + _n(0)
            + _n(0)
            + _n(1)
            + _topic_info("wc-log", 0)
            + _n(1)
            + _topic_info("wc-rep", 3)
            + TAGS
            + TAGS
        )
    else:
        body += b"\xff"
    return body + _n(1) + _member(endpoint=topology) + _i32(-(2**31)) + TAGS


def test_streams_group_describe_v0_asks_for_each_group_without_authorized_operations():
    assert wire.encode_streams_group_describe(["a", "bc"]) == _n(2) + _s("a") + _s("bc") + b"\x00" + TAGS
    assert (wire.STREAMS_GROUP_DESCRIBE, wire.VERSION) == (89, 0)


def test_a_described_group_decodes_with_its_topology_members_and_tasks():
    (group,) = wire.decode_streams_group_describe(_i32(0) + _n(1) + _group(topology=True) + TAGS)
    assert (group.group_id, group.state, group.group_epoch, group.assignment_epoch) == ("wc", "Stable", 7, 7)
    assert group.topology is not None and group.topology.subtopologies is not None
    first, second = group.topology.subtopologies
    assert (first.source_topics, first.repartition_sink_topics) == (("lines",), ("wc-rep",))
    assert [(t.name, t.partitions, t.configs) for t in second.repartition_source_topics] == [
        ("wc-rep", 3, (("cleanup.policy", "compact"),))
    ]
    (member,) = group.members
    assert member.user_endpoint == ("iq.local", 50000)  # above 32767: read unsigned
    assert (member.rack_id, member.instance_id, member.client_tags) == ("rack-a", None, (("zone", "a"),))
    assert member.task_offsets == (wire.TaskOffset("1", 2, 40),)
    assert [(t.subtopology_id, t.partitions) for t in member.assignment.active] == [("0", (0, 2)), ("1", (1,))]

    described = StreamsGroupDescription("wc", "Stable", 7, 7, 0, group.topology.subtopologies, "-", group.members)
    assert described.input_topics == ("lines", "wc-rep")
    assert described.partitions_of(member.assignment) == (TP("lines", 0), TP("lines", 2), TP("wc-rep", 1))


def test_a_group_without_topology_decodes_with_none():
    (group,) = wire.decode_streams_group_describe(_i32(0) + _n(1) + _group(topology=False) + TAGS)
    assert group.topology is None and group.members[0].user_endpoint is None


def test_a_garbled_or_longer_answer_is_refused():
    good = _i32(0) + _n(1) + _group(topology=True) + TAGS
    with pytest.raises(MalformedResponse):
        wire.decode_streams_group_describe(good[:-5])
    with pytest.raises(MalformedResponse):
        wire.decode_streams_group_describe(good + b"\x00")
    with pytest.raises(MalformedResponse, match="struct marker"):
        wire.decode_streams_group_describe(good.replace(b"\x01" + _i32(0) + _n(2), b"\x02" + _i32(0) + _n(2), 1))
