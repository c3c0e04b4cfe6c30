"""Streams groups (KIP-1071): describe one as its coordinator holds it.

A streams group is what Kafka Streams applications form with `group.protocol=streams`: the broker
keeps their topology (sub-topologies with their source, repartition and changelog topics) and
assigns tasks (a sub-topology and a partition of its input topics) to members. Its committed offsets
are ordinary group offsets, read as a consumer group's are. librdkafka neither lists nor describes
these groups, so StreamsGroupDescribe goes over `share_connection` with the body of
`streams_protocol`, the figures `kafka-streams-groups --describe` prints.

The group writes are a consumer group's (OffsetCommit, OffsetDelete, DeleteGroups: what
`kafka-streams-groups --reset-offsets`, `--delete-offsets` and `--delete` send), which Kafka accepts
only while the streams group has no members; `describe_group_to_change` lets those paths see it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from groups.kafka import streams_protocol as wire
from groups.kafka.admin import ClusterClient
from groups.kafka.share import ShareClient, ShareGroupNotFound
from groups.kafka.share_connection import (
    COORDINATOR_BUSY,
    Broker,
    BrokerConnection,
    cluster_config,
    decoded,
    error_name,
    on_coordinator,
)
from groups.kafka.streams_protocol import Assignment, StreamsMember, Subtopology
from groups.kafka.values import TP, ConsoleError, GroupDescription, Member

STREAMS_STATES = ("Empty", "NotReady", "Assigning", "Reconciling", "Stable", "Dead")
STREAMS_INACTIVE_STATES = frozenset({"Empty", "Dead"})


class StreamsGroupNotFound(ConsoleError):
    """No streams group has this id."""

    @property
    def not_found(self) -> bool:
        return True


@dataclass(frozen=True)
class StreamsGroupDescription:
    group_id: str
    state: str
    group_epoch: int
    assignment_epoch: int
    topology_epoch: int | None  # None before the group's topology is initialised
    subtopologies: tuple[Subtopology, ...]
    coordinator: str
    members: tuple[StreamsMember, ...]

    @property
    def is_active(self) -> bool:
        return self.state not in STREAMS_INACTIVE_STATES

    @property
    def source_topics(self) -> tuple[str, ...]:
        """The topics the application reads from outside, without its repartition topics."""
        return tuple(sorted({t for s in self.subtopologies for t in s.source_topics}))

    @property
    def input_topics(self) -> tuple[str, ...]:
        """The topics the group reads, and commits offsets on: source and repartition source topics."""
        return tuple(sorted({t for s in self.subtopologies for t in _inputs(s)}))

    def partitions_of(self, assignment: Assignment) -> tuple[TP, ...]:
        """The input partitions of an assignment's active tasks: each task reads its partition of every
        input topic of its sub-topology."""
        inputs = {s.subtopology_id: _inputs(s) for s in self.subtopologies}
        return tuple(
            sorted(
                TP(topic, partition)
                for tasks in assignment.active
                for topic in inputs.get(tasks.subtopology_id, ())
                for partition in tasks.partitions
            )
        )


def _inputs(subtopology: Subtopology) -> tuple[str, ...]:
    return (*subtopology.source_topics, *(t.name for t in subtopology.repartition_source_topics))


def describe_streams_groups(
    connection: BrokerConnection, coordinator: Broker, group_ids: list[str]
) -> dict[str, StreamsGroupDescription | ConsoleError]:
    """Describe `group_ids` in one request to their coordinator; each group's answer or its error."""
    doing = f"describing streams group{'s' if len(group_ids) > 1 else ''} {', '.join(map(repr, group_ids))}"
    supported = connection.supported(wire.STREAMS_GROUP_DESCRIBE)
    if supported is None or not supported[0] <= wire.VERSION <= supported[1]:
        enabled = connection.features.get("streams.version", 0)
        hint = (
            "streams groups are not enabled on this cluster (feature streams.version is 0; "
            "`kafka-features upgrade --feature streams.version=1` enables them)"
            if not enabled
            else "streams groups need Kafka 4.1 or newer"
        )
        raise ConsoleError(f"Kafka at {connection.address} cannot answer while {doing}: {hint}.", code="UNSUPPORTED")
    body = connection.call(
        wire.STREAMS_GROUP_DESCRIBE, wire.VERSION, wire.encode_streams_group_describe(group_ids), doing=doing
    )
    out: dict[str, StreamsGroupDescription | ConsoleError] = {}
    for group in decoded(wire.decode_streams_group_describe, body, connection.address):
        if group.error_code:
            out[group.group_id] = _group_error(group.error_code, group.error_message, group.group_id)
            continue
        topology = group.topology
        out[group.group_id] = StreamsGroupDescription(
            group_id=group.group_id,
            state=group.state,
            group_epoch=group.group_epoch,
            assignment_epoch=group.assignment_epoch,
            topology_epoch=topology.epoch if topology else None,
            subtopologies=tuple(
                sorted(topology.subtopologies or () if topology else (), key=lambda s: _numeric(s.subtopology_id))
            ),
            coordinator=str(coordinator),
            members=tuple(sorted(group.members, key=lambda m: m.member_id)),
        )
    return out


def _numeric(subtopology_id: str) -> tuple[int, str]:
    # Kafka Streams numbers its sub-topologies 0, 1, ...; order them as numbers, not as text.
    return (int(subtopology_id), "") if subtopology_id.isdecimal() else (1 << 31, subtopology_id)


def describe_streams_group(config: dict[str, str], timeout: float, group_id: str) -> StreamsGroupDescription:
    """A streams group as its coordinator holds it; StreamsGroupNotFound if there is none."""

    def describe(connection: BrokerConnection, coordinator: Broker) -> StreamsGroupDescription:
        answer = describe_streams_groups(connection, coordinator, [group_id]).get(group_id)
        if answer is None:
            raise ConsoleError(f"Kafka did not describe streams group '{group_id}'; try again in a moment.")
        if isinstance(answer, ConsoleError):
            raise answer
        return answer

    return on_coordinator(config, timeout, group_id, describe)


def streams_description_for(cluster, group_id: str) -> StreamsGroupDescription:
    """`describe_streams_group` on a `Cluster` row, with the same settings as its AdminClient."""
    return describe_streams_group(cluster_config(cluster), settings.KAFKA_REQUEST_TIMEOUT, group_id)


def describe_group_to_change(client: ClusterClient, group_id: str) -> GroupDescription:
    """The group as a reset or a deletion must see it, of whichever type writes committed offsets.

    librdkafka describes a streams group as a Dead classic group without members (DescribeGroups does
    not know it), which would let a change through to a running application; so such an answer is
    asked of StreamsGroupDescribe as well, and a streams group comes back with its own state, members
    (their active tasks' input partitions) and source topics. A share group, described the same way,
    comes back as type "share" (ShareGroupDescribe), for the caller to refuse: its share-partitions
    have start offsets, which a consumer-group change would neither see nor move.
    """
    described = client.describe_groups([group_id])[group_id]
    if described.state != "Dead" or described.members:
        return described
    try:
        streams = describe_streams_group(client.config, client.timeout, group_id)
    except StreamsGroupNotFound:
        return _share_group(client, group_id) or described
    except ConsoleError as exc:
        if exc.code == "UNSUPPORTED":  # a cluster without streams groups has none to find
            return _share_group(client, group_id) or described
        raise
    return GroupDescription(
        group_id=group_id,
        state=streams.state,
        type="streams",
        assignor="",
        coordinator=streams.coordinator,
        members=tuple(
            Member(
                member_id=m.member_id,
                client_id=m.client_id,
                host=m.client_host,
                instance_id=m.instance_id,
                assignment=streams.partitions_of(m.assignment),
            )
            for m in streams.members
        ),
        source_topics=streams.source_topics,
    )


def _share_group(client: ClusterClient, group_id: str) -> GroupDescription | None:
    """The share group of that id as a GroupDescription, or None when there is none (or no share groups)."""
    try:
        share = ShareClient(client.config, client.timeout).describe(group_id)
    except ShareGroupNotFound:
        return None
    except ConsoleError as exc:
        if exc.code == "UNSUPPORTED":
            return None
        raise
    return GroupDescription(
        group_id=group_id,
        state=share.state,
        type="share",
        assignor=share.assignor,
        coordinator=share.coordinator,
        members=tuple(
            Member(member_id=m.member_id, client_id=m.client_id, host=m.host, instance_id=None, assignment=m.assignment)
            for m in share.members
        ),
    )


def _group_error(code: int, message: str | None, group_id: str) -> ConsoleError:
    name = error_name(code)
    if name == "GROUP_ID_NOT_FOUND":
        if message and "not a streams group" in message:
            return StreamsGroupNotFound(
                f"Group '{group_id}' is not a streams group: open it from the group list instead.", code=name
            )
        return StreamsGroupNotFound(
            f"There is no streams group '{group_id}' on this cluster: check the name, or it was deleted.", code=name
        )
    if name == "GROUP_AUTHORIZATION_FAILED":
        return ConsoleError(
            f"Kafka refused to describe streams group '{group_id}': the console's credentials lack the ACL for it.",
            code=name,
        )
    if name in COORDINATOR_BUSY:
        return ConsoleError(
            f"The coordinator of streams group '{group_id}' is not available ({name}); try again in a moment.",
            code=name,
            retriable=True,
        )
    detail = f" ({message})" if message else ""
    return ConsoleError(f"Kafka failed to describe streams group '{group_id}': {name}{detail}.", code=name)
