"""The wire form of the share-group admin requests (KIP-932) that no Python Kafka client carries.

Written from Apache Kafka 4.3's message definitions (clients/src/main/resources/common/message):
ShareGroupDescribe v1 (api key 77), DescribeShareGroupOffsets v0 and v1 (90; v1 adds the lag,
KIP-1226) and AlterShareGroupOffsets v0 (91). All three are "flexible" versions: compact strings
and arrays (length + 1 as an unsigned varint, 0 for null) and a tagged-field section closing every
struct; the console sends no tagged fields and skips those it receives. The primitives are
kafka-python's codecs. Pure: bytes in, bytes or dataclasses out; `share_connection` moves them.
"""

from __future__ import annotations

import io
import struct
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from kafka.protocol.schemas.fields.codecs import (
    UUID,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    String,
    TaggedFields,
    UnsignedVarInt32,
)

SHARE_GROUP_DESCRIBE = 77
DESCRIBE_SHARE_GROUP_OFFSETS = 90
ALTER_SHARE_GROUP_OFFSETS = 91

_STRING = String("utf-8")
T = TypeVar("T")
M = TypeVar("M")


class MalformedResponse(Exception):
    """The broker's answer does not decode as the version that was asked for."""


# -- request and response headers ------------------------------------------------------------------


def request_header(api_key: int, version: int, correlation_id: int, client_id: str, *, flexible: bool) -> bytes:
    """Request header v2 (flexible requests) or v1: the client id stays a classic int16-length string."""
    header = Int16.encode(api_key) + Int16.encode(version) + Int32.encode(correlation_id) + _STRING.encode(client_id)
    return header + TaggedFields.encode_empty() if flexible else header


def response_body(frame: bytes, *, flexible_header: bool) -> tuple[int, bytes]:
    """(correlation id, body) of a response frame; header v1 carries tagged fields, v0 does not."""
    reader = Reader(frame)
    correlation_id = reader.int32()
    if flexible_header:
        reader.tagged_fields()
    return correlation_id, reader.rest()


# -- ShareGroupDescribe v1 -------------------------------------------------------------------------


@dataclass(frozen=True)
class DescribedTopicPartitions:
    topic_id: uuid.UUID
    topic: str
    partitions: tuple[int, ...]


@dataclass(frozen=True)
class DescribedMember:
    member_id: str
    rack_id: str | None
    member_epoch: int
    client_id: str
    client_host: str
    subscribed_topics: tuple[str, ...]
    assignment: tuple[DescribedTopicPartitions, ...]


@dataclass(frozen=True)
class DescribedGroup(Generic[M]):
    """A group entry of a ShareGroupDescribe or ConsumerGroupDescribe response: the two are laid out
    alike but for their members."""

    error_code: int
    error_message: str | None
    group_id: str
    state: str
    group_epoch: int
    assignment_epoch: int
    assignor: str
    members: tuple[M, ...]
    authorized_operations: int


DescribedShareGroup = DescribedGroup[DescribedMember]


def encode_share_group_describe(group_ids: Iterable[str], include_authorized_operations: bool = False) -> bytes:
    """ShareGroupDescribe v1 request body."""
    return (
        encode_array(group_ids, encode_compact_string)
        + Boolean.encode(include_authorized_operations)
        + TaggedFields.encode_empty()
    )


def decode_share_group_describe(body: bytes) -> list[DescribedShareGroup]:
    """ShareGroupDescribe v1 response body: one entry per group asked for."""
    reader = Reader(body)
    reader.int32()  # throttle time
    groups = reader.array(lambda r: read_described_group(r, _described_member))
    reader.tagged_fields()
    reader.end()
    return groups


def read_described_group(reader: Reader, read_member: Callable[[Reader], M]) -> DescribedGroup[M]:
    """One group entry of a ShareGroupDescribe or ConsumerGroupDescribe response, its members read by `read_member`."""
    group = DescribedGroup(
        error_code=reader.int16(),
        error_message=reader.nullable_string(),
        group_id=reader.string(),
        state=reader.string(),
        group_epoch=reader.int32(),
        assignment_epoch=reader.int32(),
        assignor=reader.string(),
        members=tuple(reader.array(read_member)),
        authorized_operations=reader.int32(),
    )
    reader.tagged_fields()
    return group


def _described_member(reader: Reader) -> DescribedMember:
    member_id = reader.string()
    rack_id = reader.nullable_string()
    member_epoch = reader.int32()
    client_id = reader.string()
    client_host = reader.string()
    subscribed = tuple(reader.array(Reader.string))
    assignment = tuple(reader.array(read_topic_partitions))
    reader.tagged_fields()  # of the Assignment struct
    reader.tagged_fields()  # of the member
    return DescribedMember(member_id, rack_id, member_epoch, client_id, client_host, subscribed, assignment)


def read_topic_partitions(reader: Reader) -> DescribedTopicPartitions:
    """One TopicPartitions struct (topic id, name, partitions), as ConsumerGroupDescribe has it too."""
    found = DescribedTopicPartitions(reader.uuid(), reader.string(), tuple(reader.array(Reader.int32)))
    reader.tagged_fields()
    return found


# -- DescribeShareGroupOffsets v0 and v1 -----------------------------------------------------------


@dataclass(frozen=True)
class SharePartitionState:
    topic: str
    topic_id: uuid.UUID
    partition: int
    start_offset: int
    leader_epoch: int
    lag: int  # -1 where unknown, and always in v0, which has no lag
    error_code: int
    error_message: str | None


@dataclass(frozen=True)
class ShareGroupOffsets:
    group_id: str
    partitions: tuple[SharePartitionState, ...]
    error_code: int
    error_message: str | None


def encode_describe_share_group_offsets(group_topics: dict[str, dict[str, list[int]] | None]) -> bytes:
    """DescribeShareGroupOffsets request body (v0 and v1 alike): per group, the partitions of each
    topic to describe, or None for every partition the group has state for."""

    def group(entry: tuple[str, dict[str, list[int]] | None]) -> bytes:
        group_id, topics = entry
        encoded_topics = (
            UnsignedVarInt32.encode(0)  # a null array: all topics
            if topics is None
            else encode_array(
                sorted(topics.items()),
                lambda topic: (
                    encode_compact_string(topic[0]) + encode_array(topic[1], Int32.encode) + TaggedFields.encode_empty()
                ),
            )
        )
        return encode_compact_string(group_id) + encoded_topics + TaggedFields.encode_empty()

    return encode_array(group_topics.items(), group) + TaggedFields.encode_empty()


def decode_describe_share_group_offsets(body: bytes, version: int) -> list[ShareGroupOffsets]:
    """DescribeShareGroupOffsets response body of `version` (0 or 1)."""
    if version not in (0, 1):
        raise ValueError(f"DescribeShareGroupOffsets v{version} is not one the console speaks")
    reader = Reader(body)
    reader.int32()  # throttle time

    def partition(topic: str, topic_id: uuid.UUID) -> Callable[[Reader], SharePartitionState]:
        def read(r: Reader) -> SharePartitionState:
            index, start, epoch = r.int32(), r.int64(), r.int32()
            lag = r.int64() if version >= 1 else -1
            state = SharePartitionState(topic, topic_id, index, start, epoch, lag, r.int16(), r.nullable_string())
            r.tagged_fields()
            return state

        return read

    def topic(r: Reader) -> list[SharePartitionState]:
        name, topic_id = r.string(), r.uuid()
        partitions = r.array(partition(name, topic_id))
        r.tagged_fields()
        return partitions

    def group(r: Reader) -> ShareGroupOffsets:
        group_id = r.string()
        partitions = tuple(state for states in r.array(topic) for state in states)
        offsets = ShareGroupOffsets(group_id, partitions, r.int16(), r.nullable_string())
        r.tagged_fields()
        return offsets

    groups = reader.array(group)
    reader.tagged_fields()
    reader.end()
    return groups


# -- AlterShareGroupOffsets v0 ---------------------------------------------------------------------


@dataclass(frozen=True)
class AlteredPartition:
    topic: str
    partition: int
    error_code: int
    error_message: str | None


@dataclass(frozen=True)
class AlterShareGroupOffsetsResult:
    error_code: int
    error_message: str | None
    partitions: tuple[AlteredPartition, ...]


def encode_alter_share_group_offsets(group_id: str, offsets: dict[str, dict[int, int]]) -> bytes:
    """AlterShareGroupOffsets v0 request body: the new start offset of each partition, per topic."""

    def topic(entry: tuple[str, dict[int, int]]) -> bytes:
        name, partitions = entry
        return (
            encode_compact_string(name)
            + encode_array(
                sorted(partitions.items()),
                lambda p: Int32.encode(p[0]) + Int64.encode(p[1]) + TaggedFields.encode_empty(),
            )
            + TaggedFields.encode_empty()
        )

    return encode_compact_string(group_id) + encode_array(sorted(offsets.items()), topic) + TaggedFields.encode_empty()


def decode_alter_share_group_offsets(body: bytes) -> AlterShareGroupOffsetsResult:
    """AlterShareGroupOffsets v0 response body."""
    reader = Reader(body)
    reader.int32()  # throttle time
    error_code, error_message = reader.int16(), reader.nullable_string()

    def topic(r: Reader) -> list[AlteredPartition]:
        name = r.string()
        r.uuid()

        def partition(rp: Reader) -> AlteredPartition:
            altered = AlteredPartition(name, rp.int32(), rp.int16(), rp.nullable_string())
            rp.tagged_fields()
            return altered

        partitions = r.array(partition)
        r.tagged_fields()
        return partitions

    partitions = tuple(p for topic_partitions in reader.array(topic) for p in topic_partitions)
    reader.tagged_fields()
    reader.end()
    return AlterShareGroupOffsetsResult(error_code, error_message, partitions)


# -- primitives (consumer_protocol encodes and reads its bodies with them too) ---------------------


def encode_compact_string(value: str) -> bytes:
    return _STRING.encode(value, compact=True)


def encode_array(items: Iterable[T], encode: Callable[[T], bytes]) -> bytes:
    encoded = [encode(item) for item in items]
    return UnsignedVarInt32.encode(len(encoded) + 1) + b"".join(encoded)


class Reader:
    """Reads a flexible-version body; any shortfall or leftover is a MalformedResponse."""

    def __init__(self, data: bytes):
        self._size = len(data)
        self._data = io.BytesIO(data)

    def _read(self, decode: Callable[[io.BytesIO], T]) -> T:
        try:
            return decode(self._data)
        except (struct.error, ValueError, IndexError) as exc:
            raise MalformedResponse(f"response ended early or is garbled at byte {self._data.tell()}") from exc

    def int8(self) -> int:
        return self._read(Int8.decode)

    def int16(self) -> int:
        return self._read(Int16.decode)

    def int32(self) -> int:
        return self._read(Int32.decode)

    def int64(self) -> int:
        return self._read(Int64.decode)

    def uuid(self) -> uuid.UUID:
        return self._read(UUID.decode)

    def nullable_string(self) -> str | None:
        return self._read(lambda data: _STRING.decode(data, compact=True))

    def string(self) -> str:
        value = self.nullable_string()
        if value is None:
            raise MalformedResponse(f"a null where a string must be, at byte {self._data.tell()}")
        return value

    def unsigned_varint(self) -> int:
        return self._read(UnsignedVarInt32.decode)

    def array(self, read: Callable[[Reader], T]) -> list[T]:
        length = self.unsigned_varint() - 1
        if length < 0:
            return []
        return [read(self) for _ in range(length)]

    def tagged_fields(self) -> None:
        """Skip a tagged-field section: fields a newer broker may add that this version ignores."""
        for _ in range(self._read(UnsignedVarInt32.decode)):
            self._read(UnsignedVarInt32.decode)  # tag
            size = self._read(UnsignedVarInt32.decode)
            if len(self._data.read(size)) != size:
                raise MalformedResponse("a tagged field runs past the end of the response")

    def rest(self) -> bytes:
        return self._data.read()

    def end(self) -> None:
        if self._data.tell() != self._size:
            raise MalformedResponse(f"{self._size - self._data.tell()} bytes left over after the response")
