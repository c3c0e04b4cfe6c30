"""KIP-848 (`consumer` protocol) groups as their coordinator holds them: true state, epochs, targets.

librdkafka describes these groups but names their Assigning and Reconciling states "Unknown" and drops
both epochs, so this module asks the coordinator itself with ConsumerGroupDescribe (`consumer_protocol`)
over a `share_connection.BrokerConnection`. `with_true_states` is what lets every active-group check use
the true state; where the request fails the state stays "Unknown", which counts as active, so a failure
never lets a change through that the true state would have refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.conf import settings

from groups.kafka import consumer_protocol as wire
from groups.kafka.share_connection import (
    COORDINATOR_BUSY,
    Broker,
    BrokerConnection,
    cluster_config,
    connect_bootstrap,
    decoded,
    error_name,
    on_coordinator,
)
from groups.kafka.share_protocol import DescribedTopicPartitions
from groups.kafka.values import INACTIVE_STATES, TP, ConsoleError, GroupDescription

logger = logging.getLogger(__name__)
# The states of a KIP-848 group that librdkafka cannot name, which with_true_states puts in their place.
KIP848_STATES = ("Assigning", "Reconciling")


class NotAConsumerProtocolGroup(ConsoleError):
    """The coordinator knows no `consumer`-protocol group by this id (a classic group, or none)."""

    @property
    def not_found(self) -> bool:
        return True


@dataclass(frozen=True)
class ConsumerProtocolMember:
    member_id: str
    instance_id: str | None
    rack: str | None
    client_id: str
    host: str
    member_epoch: int
    # "consumer", or "classic" for a member still on the old protocol inside the group; None where unknown.
    member_type: str | None
    subscribed_topics: tuple[str, ...]
    subscribed_regex: str | None
    assignment: tuple[TP, ...]
    target_assignment: tuple[TP, ...]

    @property
    def display_host(self) -> str:
        # Kafka reports the client address as '/10.0.0.5' (Java's InetAddress form).
        return self.host.removeprefix("/")

    @property
    def reconciling(self) -> bool:
        """Whether the member holds other partitions than the coordinator has chosen for it."""
        return set(self.assignment) != set(self.target_assignment)

    @property
    def to_revoke(self) -> tuple[TP, ...]:
        """Partitions the member holds and must give up: until it does, their next owner waits."""
        return tuple(sorted(set(self.assignment) - set(self.target_assignment)))

    @property
    def to_receive(self) -> tuple[TP, ...]:
        """Partitions the member is to get, once their current owners have revoked them."""
        return tuple(sorted(set(self.target_assignment) - set(self.assignment)))


@dataclass(frozen=True)
class ConsumerProtocolGroup:
    """A KIP-848 group: `group_epoch` counts changes of members or subscriptions; `assignment_epoch` is the
    group epoch the target assignment was computed for (below it: Assigning); members whose current
    assignment is not yet their target make the group Reconciling."""

    group_id: str
    state: str
    group_epoch: int
    assignment_epoch: int
    assignor: str
    coordinator: str
    members: tuple[ConsumerProtocolMember, ...]

    @property
    def is_active(self) -> bool:
        return self.state not in INACTIVE_STATES

    @property
    def reconciling_members(self) -> tuple[ConsumerProtocolMember, ...]:
        return tuple(m for m in self.members if m.reconciling)

    @property
    def has_instance_ids(self) -> bool:
        return any(m.instance_id for m in self.members)

    @property
    def has_racks(self) -> bool:
        return any(m.rack for m in self.members)


class ConsumerGroupClient:
    """ConsumerGroupDescribe against one cluster, given its librdkafka-style client settings."""

    def __init__(self, config: dict[str, str], timeout: float):
        self._config = config
        self.timeout = timeout

    def describe(self, group_id: str) -> ConsumerProtocolGroup:
        """The group as its coordinator holds it; NotAConsumerProtocolGroup for a classic group or none."""
        return on_coordinator(
            self._config,
            self.timeout,
            group_id,
            lambda connection, coordinator: _one(_describe(connection, coordinator, [group_id])),
        )

    def describe_many(self, group_ids: Iterable[str]) -> dict[str, ConsumerProtocolGroup]:
        """The groups of `group_ids` their coordinators could describe, one request per coordinator; groups
        that are not `consumer` groups, or whose coordinator is busy, are left out."""
        wanted = sorted(set(group_ids))
        if not wanted:
            return {}
        by_coordinator: dict[Broker, list[str]] = {}
        found: dict[str, ConsumerProtocolGroup] = {}
        with connect_bootstrap(self._config, self.timeout) as bootstrap:
            for group_id in wanted:
                try:
                    by_coordinator.setdefault(bootstrap.group_coordinator(group_id), []).append(group_id)
                except ConsoleError as exc:
                    if exc.code not in COORDINATOR_BUSY:
                        raise
            here = [b for b in by_coordinator if bootstrap.address == f"{b.host}:{b.port}"]
            for broker in here:
                found.update(_described(_describe(bootstrap, broker, by_coordinator.pop(broker))))
        for broker, groups in by_coordinator.items():
            with BrokerConnection(broker.host, broker.port, self._config, self.timeout) as connection:
                found.update(_described(_describe(connection, broker, groups)))
        return found


def _describe(
    connection: BrokerConnection, coordinator: Broker, group_ids: list[str]
) -> list[ConsumerProtocolGroup | ConsoleError]:
    """Each group asked for, described, or the error the coordinator gave for it."""
    doing = f"describing consumer group{'s' if len(group_ids) > 1 else ''} {', '.join(map(repr, group_ids))}"
    version = request_version(connection, doing)
    body = connection.call(
        wire.CONSUMER_GROUP_DESCRIBE, version, wire.encode_consumer_group_describe(group_ids), doing=doing
    )
    groups = decoded(lambda b: wire.decode_consumer_group_describe(b, version), body, connection.address)
    return [
        _group_error(g.error_code, g.error_message, g.group_id, connection.address)
        if g.error_code
        else to_group(g, coordinator)
        for g in groups
    ]


def request_version(connection: BrokerConnection, doing: str) -> int:
    """The highest ConsumerGroupDescribe version both the broker and the console speak."""
    supported = connection.supported(wire.CONSUMER_GROUP_DESCRIBE)
    if supported is None or supported[0] > max(wire.VERSIONS):
        raise ConsoleError(
            f"Kafka at {connection.address} cannot answer while {doing}: KIP-848 consumer groups need Kafka 4.0 "
            "or newer.",
            code="UNSUPPORTED",
        )
    return min(supported[1], max(wire.VERSIONS))


def _one(described: list[ConsumerProtocolGroup | ConsoleError]) -> ConsumerProtocolGroup:
    (group,) = described
    if isinstance(group, ConsoleError):
        raise group
    return group


def _described(described: list[ConsumerProtocolGroup | ConsoleError]) -> dict[str, ConsumerProtocolGroup]:
    for failure in (g for g in described if isinstance(g, ConsoleError) and not g.not_found):
        logger.warning("ConsumerGroupDescribe failed: %s", failure.message)
    return {g.group_id: g for g in described if isinstance(g, ConsumerProtocolGroup)}


def _partitions(assignment: tuple[DescribedTopicPartitions, ...]) -> tuple[TP, ...]:
    return tuple(sorted(TP(t.topic, p) for t in assignment for p in t.partitions))


def to_group(group: wire.DescribedConsumerGroup, coordinator: Broker) -> ConsumerProtocolGroup:
    """A described group as console values: members sorted by client id, assignments by topic and partition."""
    members = (
        ConsumerProtocolMember(
            member_id=m.member_id,
            instance_id=m.instance_id,
            rack=m.rack_id,
            client_id=m.client_id,
            host=m.client_host,
            member_epoch=m.member_epoch,
            member_type=wire.MEMBER_TYPES.get(m.member_type),
            subscribed_topics=tuple(sorted(m.subscribed_topic_names)),
            subscribed_regex=m.subscribed_topic_regex,
            assignment=_partitions(m.assignment),
            target_assignment=_partitions(m.target_assignment),
        )
        for m in group.members
    )
    return ConsumerProtocolGroup(
        group_id=group.group_id,
        state=group.state,
        group_epoch=group.group_epoch,
        assignment_epoch=group.assignment_epoch,
        assignor=group.assignor,
        coordinator=str(coordinator),
        members=tuple(sorted(members, key=lambda m: (m.client_id, m.member_id))),
    )


def _group_error(code: int, message: str | None, group_id: str, address: str) -> ConsoleError:
    name = error_name(code)
    if name == "GROUP_ID_NOT_FOUND":
        # The coordinator answers the same code for a classic group, and says so in its message.
        if message and "not a consumer group" in message:
            return NotAConsumerProtocolGroup(
                f"Group '{group_id}' uses the classic protocol, not KIP-848's: it has no epochs nor target "
                "assignment to show.",
                code=name,
            )
        return NotAConsumerProtocolGroup(
            f"There is no consumer group '{group_id}' on this cluster: check the name, or it was deleted.", code=name
        )
    if name in COORDINATOR_BUSY:
        return ConsoleError(
            f"The coordinator of group '{group_id}' is moving or loading ({name}); try again in a moment.",
            code=name,
            retriable=True,
        )
    if name in ("GROUP_AUTHORIZATION_FAILED", "TOPIC_AUTHORIZATION_FAILED"):
        return ConsoleError(
            f"Kafka refused to describe group '{group_id}': the console's credentials lack the DESCRIBE ACL on "
            f"the group or on its topics ({name}).",
            code=name,
        )
    detail = f" ({message})" if message else ""
    return ConsoleError(f"Kafka at {address} failed to describe group '{group_id}': {name}{detail}.", code=name)


def with_true_states(
    config: dict[str, str], timeout: float, descriptions: dict[str, GroupDescription]
) -> dict[str, GroupDescription]:
    """`descriptions`, with the state of each `consumer` group librdkafka called "Unknown" asked of its
    coordinator (Assigning or Reconciling). Where the coordinator cannot say, "Unknown" stays: it counts
    as active, which refuses what an active group must not undergo."""
    unknown = [g for g, d in descriptions.items() if d.type == "consumer" and d.state == "Unknown"]
    if not unknown:
        return descriptions
    try:
        found = ConsumerGroupClient(config, timeout).describe_many(unknown)
    except ConsoleError as exc:
        logger.warning("The true state of %s stays Unknown: %s", ", ".join(unknown), exc.message)
        return descriptions
    return {g: replace(d, state=found[g].state) if g in found else d for g, d in descriptions.items()}


def consumer_group_client_for(cluster) -> ConsumerGroupClient:
    """A ConsumerGroupDescribe client for a `Cluster` row, with the same settings as its AdminClient."""
    return ConsumerGroupClient(cluster_config(cluster), settings.KAFKA_REQUEST_TIMEOUT)
