"""The wire form of StreamsGroupDescribe (api key 89), which describes a streams group (KIP-1071): the
group Kafka Streams applications form with `group.protocol=streams`.

Neither librdkafka nor kafka-python carries this request, so the console encodes it. Written from
Apache Kafka 4.3's message definitions (StreamsGroupDescribeRequest.json and
StreamsGroupDescribeResponse.json): version 0, the only one, flexible. Its layout differs from
ShareGroupDescribe's: a nullable Topology struct (epoch and sub-topologies) before the members, and
members whose assignments are tasks (sub-topology id and partitions) rather than topic partitions.
Pure: bytes in, bytes or dataclasses out, with the primitives of `share_protocol`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from groups.kafka.share_protocol import MalformedResponse, Reader, encode_share_group_describe

STREAMS_GROUP_DESCRIBE = 89
VERSION = 0

# The request body is ShareGroupDescribe's, field for field: group ids, include authorized operations.
encode_streams_group_describe = encode_share_group_describe


@dataclass(frozen=True)
class TopicInfo:
    """An internal topic of a sub-topology: a changelog or a repartition topic."""

    name: str
    partitions: int  # 0: no count enforced (always for changelogs)
    replication_factor: int
    configs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Subtopology:
    subtopology_id: str
    source_topics: tuple[str, ...]
    repartition_sink_topics: tuple[str, ...]
    state_changelog_topics: tuple[TopicInfo, ...]
    repartition_source_topics: tuple[TopicInfo, ...]


@dataclass(frozen=True)
class Topology:
    epoch: int
    subtopologies: tuple[Subtopology, ...] | None  # None until the group is initialised


@dataclass(frozen=True)
class Tasks:
    """Tasks of one sub-topology: the partitions of its input topics."""

    subtopology_id: str
    partitions: tuple[int, ...]


@dataclass(frozen=True)
class Assignment:
    active: tuple[Tasks, ...]
    standby: tuple[Tasks, ...]
    warmup: tuple[Tasks, ...]


@dataclass(frozen=True)
class TaskOffset:
    subtopology_id: str
    partition: int
    offset: int


@dataclass(frozen=True)
class StreamsMember:
    member_id: str
    member_epoch: int
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    topology_epoch: int
    process_id: str
    user_endpoint: tuple[str, int] | None
    client_tags: tuple[tuple[str, str], ...]
    task_offsets: tuple[TaskOffset, ...]
    task_end_offsets: tuple[TaskOffset, ...]
    assignment: Assignment
    target_assignment: Assignment
    is_classic: bool

    @property
    def display_host(self) -> str:
        # Kafka reports the client address as '/10.0.0.5' (Java's InetAddress form).
        return self.client_host.removeprefix("/")


@dataclass(frozen=True)
class DescribedStreamsGroup:
    error_code: int
    error_message: str | None
    group_id: str
    state: str
    group_epoch: int
    assignment_epoch: int
    topology: Topology | None
    members: tuple[StreamsMember, ...]
    authorized_operations: int


def decode_streams_group_describe(body: bytes) -> list[DescribedStreamsGroup]:
    """StreamsGroupDescribe v0 response body: one entry per group asked for."""
    reader = Reader(body)
    reader.int32()  # throttle time
    groups = reader.array(_group)
    reader.tagged_fields()
    reader.end()
    return groups


def _group(reader: Reader) -> DescribedStreamsGroup:
    error_code, error_message = reader.int16(), reader.nullable_string()
    group_id, state = reader.string(), reader.string()
    group_epoch, assignment_epoch = reader.int32(), reader.int32()
    topology = _nullable_struct(reader, _topology)
    members = tuple(reader.array(_member))
    authorized = reader.int32()
    reader.tagged_fields()
    return DescribedStreamsGroup(
        error_code, error_message, group_id, state, group_epoch, assignment_epoch, topology, members, authorized
    )


def _nullable_struct(reader: Reader, read):
    # A nullable struct of a flexible version is preceded by an int8: -1 for null, 1 for present.
    marker = reader.int8()
    if marker < 0:
        return None
    if marker != 1:
        raise MalformedResponse(f"a struct marker of {marker} where -1 or 1 must be")
    return read(reader)


def _topology(reader: Reader) -> Topology:
    epoch = reader.int32()
    length = reader.unsigned_varint() - 1
    subtopologies = None if length < 0 else tuple(_subtopology(reader) for _ in range(length))
    reader.tagged_fields()
    return Topology(epoch, subtopologies)


def _subtopology(reader: Reader) -> Subtopology:
    found = Subtopology(
        subtopology_id=reader.string(),
        source_topics=tuple(reader.array(Reader.string)),
        repartition_sink_topics=tuple(reader.array(Reader.string)),
        state_changelog_topics=tuple(reader.array(_topic_info)),
        repartition_source_topics=tuple(reader.array(_topic_info)),
    )
    reader.tagged_fields()
    return found


def _key_value(reader: Reader) -> tuple[str, str]:
    pair = (reader.string(), reader.string())
    reader.tagged_fields()
    return pair


def _topic_info(reader: Reader) -> TopicInfo:
    info = TopicInfo(reader.string(), reader.int32(), reader.int16(), tuple(reader.array(_key_value)))
    reader.tagged_fields()
    return info


def _endpoint(reader: Reader) -> tuple[str, int]:
    host = reader.string()
    (port,) = struct.unpack(">H", struct.pack(">h", reader.int16()))  # uint16 on the wire
    reader.tagged_fields()
    return host, port


def _task_offset(reader: Reader) -> TaskOffset:
    offset = TaskOffset(reader.string(), reader.int32(), reader.int64())
    reader.tagged_fields()
    return offset


def _tasks(reader: Reader) -> Tasks:
    tasks = Tasks(reader.string(), tuple(reader.array(Reader.int32)))
    reader.tagged_fields()
    return tasks


def _assignment(reader: Reader) -> Assignment:
    assignment = Assignment(tuple(reader.array(_tasks)), tuple(reader.array(_tasks)), tuple(reader.array(_tasks)))
    reader.tagged_fields()
    return assignment


def _member(reader: Reader) -> StreamsMember:
    member = StreamsMember(
        member_id=reader.string(),
        member_epoch=reader.int32(),
        instance_id=reader.nullable_string(),
        rack_id=reader.nullable_string(),
        client_id=reader.string(),
        client_host=reader.string(),
        topology_epoch=reader.int32(),
        process_id=reader.string(),
        user_endpoint=_nullable_struct(reader, _endpoint),
        client_tags=tuple(reader.array(_key_value)),
        task_offsets=tuple(reader.array(_task_offset)),
        task_end_offsets=tuple(reader.array(_task_offset)),
        assignment=_assignment(reader),
        target_assignment=_assignment(reader),
        is_classic=bool(reader.int8()),
    )
    reader.tagged_fields()
    return member
