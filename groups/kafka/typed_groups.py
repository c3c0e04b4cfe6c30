"""The groups librdkafka does not list: share groups (KIP-932) and streams groups (KIP-1071).

One connection per broker, three requests at most on it: ListGroups v5 asking for those two types
(each broker lists the groups it coordinates, so the broker that lists a group is the one to ask
about it), then DescribeShareGroupOffsets for all its share groups and StreamsGroupDescribe for all
its streams groups, each one request whatever the number of groups. The collection round calls
`read_typed_groups` beside its other reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from groups.kafka import share_protocol as share_wire
from groups.kafka.share import SharePartitionOffset, partition_offsets
from groups.kafka.share_connection import BrokerConnection, connect_bootstrap, decoded, error_name
from groups.kafka.streams import StreamsGroupDescription, describe_streams_groups
from groups.kafka.values import TP, ConsoleError, GroupListing, Member

TYPED_GROUP_TYPES = ("share", "streams")


@dataclass(frozen=True)
class TypedGroups:
    """Share and streams groups with what a collection round needs of them: members (a streams member's
    assignment as the input partitions of its active tasks), share start offsets and lag, streams
    descriptions; per group, why a part of it could not be read."""

    listings: list[GroupListing]
    members: dict[str, tuple[Member, ...]] = field(default_factory=dict)  # of share and streams groups
    share_offsets: dict[str, tuple[SharePartitionOffset, ...]] = field(default_factory=dict)
    streams: dict[str, StreamsGroupDescription] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def read_typed_groups(config: dict[str, str], timeout: float) -> TypedGroups:
    """Every share and streams group of the cluster, share start offsets and lag, streams descriptions."""
    with connect_bootstrap(config, timeout) as bootstrap:
        brokers = bootstrap.brokers()
    found = TypedGroups([])
    for broker in brokers:
        with BrokerConnection(broker.host, broker.port, config, timeout) as connection:
            listed = connection.list_groups(TYPED_GROUP_TYPES)
            found.listings.extend(listed)
            share_ids = [g.group_id for g in listed if g.type == "share"]
            streams_ids = [g.group_id for g in listed if g.type == "streams"]
            if share_ids:
                _share_members(connection, share_ids, found)
                _share_offsets(connection, share_ids, found)
            if streams_ids:
                for group_id, answer in describe_streams_groups(connection, broker, streams_ids).items():
                    if isinstance(answer, ConsoleError):
                        found.errors[group_id] = answer.message
                    else:
                        found.streams[group_id] = answer
                        found.members[group_id] = tuple(
                            Member(
                                m.member_id,
                                m.client_id,
                                m.client_host,
                                m.instance_id,
                                answer.partitions_of(m.assignment),
                            )
                            for m in answer.members
                        )
    found.listings.sort(key=lambda g: g.group_id)
    return found


def _share_members(connection: BrokerConnection, group_ids: list[str], into: TypedGroups) -> None:
    supported = connection.supported(share_wire.SHARE_GROUP_DESCRIBE)
    if supported is None or not supported[0] <= 1 <= supported[1]:
        return
    body = connection.call(
        share_wire.SHARE_GROUP_DESCRIBE,
        1,
        share_wire.encode_share_group_describe(group_ids),
        doing="describing the share groups",
    )
    for group in decoded(share_wire.decode_share_group_describe, body, connection.address):
        if not group.error_code:
            into.members[group.group_id] = tuple(
                Member(
                    m.member_id,
                    m.client_id,
                    m.client_host,
                    None,
                    tuple(sorted(TP(t.topic, p) for t in m.assignment for p in t.partitions)),
                )
                for m in group.members
            )


def _share_offsets(connection: BrokerConnection, group_ids: list[str], into: TypedGroups) -> None:
    supported = connection.supported(share_wire.DESCRIBE_SHARE_GROUP_OFFSETS)
    if supported is None:
        return
    version = min(1, supported[1])
    request = share_wire.encode_describe_share_group_offsets(dict.fromkeys(group_ids))
    body = connection.call(
        share_wire.DESCRIBE_SHARE_GROUP_OFFSETS, version, request, doing="reading the share groups' start offsets"
    )
    for group in decoded(
        lambda b: share_wire.decode_describe_share_group_offsets(b, version), body, connection.address
    ):
        if group.error_code:
            into.errors[group.group_id] = (
                f"Kafka did not tell the start offsets of share group '{group.group_id}' "
                f"({error_name(group.error_code)}: {group.error_message or 'no detail'})."
            )
            continue
        into.share_offsets[group.group_id] = partition_offsets(group)
