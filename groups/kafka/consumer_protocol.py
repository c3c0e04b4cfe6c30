"""The wire form of ConsumerGroupDescribe (api key 69), which describes a KIP-848 (`consumer` protocol) group
as its coordinator holds it: the true state, both epochs, and each member's current and target assignment.

librdkafka sends this request itself but hands on neither the epochs nor the Assigning and Reconciling
states, and kafka-python 3.0 does not carry it, so the console encodes it. Written from Apache Kafka 4.3's
message definitions (ConsumerGroupDescribeRequest.json and ConsumerGroupDescribeResponse.json): versions 0
and 1 are both flexible; the request is the same in both, and the v1 response adds each member's type
(KIP-1099: a classic member still speaking the old protocol inside a `consumer` group, or a consumer one).
Pure: bytes in, bytes or dataclasses out, with the primitives of `share_protocol`; `consumer_groups`
moves them over a `share_connection.BrokerConnection`.
"""

from __future__ import annotations

from dataclasses import dataclass

from groups.kafka.share_protocol import (
    DescribedGroup,
    DescribedTopicPartitions,
    Reader,
    encode_share_group_describe,
    read_described_group,
    read_topic_partitions,
)

CONSUMER_GROUP_DESCRIBE = 69
VERSIONS = (0, 1)
# MemberType of a v1 response; v0 has none, which reads as unknown (-1).
MEMBER_TYPES = {-1: None, 0: "classic", 1: "consumer"}


@dataclass(frozen=True)
class DescribedConsumerMember:
    member_id: str
    instance_id: str | None
    rack_id: str | None
    member_epoch: int
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    assignment: tuple[DescribedTopicPartitions, ...]
    target_assignment: tuple[DescribedTopicPartitions, ...]
    member_type: int  # -1 unknown (always in v0), 0 classic, 1 consumer


DescribedConsumerGroup = DescribedGroup[DescribedConsumerMember]

# The request body is ShareGroupDescribe's, field for field (v0 and v1 alike).
encode_consumer_group_describe = encode_share_group_describe


def decode_consumer_group_describe(body: bytes, version: int) -> list[DescribedConsumerGroup]:
    """ConsumerGroupDescribe response body of `version` (0 or 1): one entry per group asked for."""
    if version not in VERSIONS:
        raise ValueError(f"ConsumerGroupDescribe v{version} is not one the console speaks")
    reader = Reader(body)
    reader.int32()  # throttle time
    groups = reader.array(lambda r: read_described_group(r, lambda m: _described_member(m, version)))
    reader.tagged_fields()
    reader.end()
    return groups


def _described_member(reader: Reader, version: int) -> DescribedConsumerMember:
    member = DescribedConsumerMember(
        member_id=reader.string(),
        instance_id=reader.nullable_string(),
        rack_id=reader.nullable_string(),
        member_epoch=reader.int32(),
        client_id=reader.string(),
        client_host=reader.string(),
        subscribed_topic_names=tuple(reader.array(Reader.string)),
        subscribed_topic_regex=reader.nullable_string(),
        assignment=_assignment(reader),
        target_assignment=_assignment(reader),
        member_type=reader.int8() if version >= 1 else -1,
    )
    reader.tagged_fields()
    return member


def _assignment(reader: Reader) -> tuple[DescribedTopicPartitions, ...]:
    """An Assignment struct: its topic-partitions, then its own tagged fields."""
    found = tuple(reader.array(read_topic_partitions))
    reader.tagged_fields()
    return found
