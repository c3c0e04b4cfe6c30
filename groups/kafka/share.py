"""Share groups (KIP-932): list, describe, start offsets and lag, and the reset of start offsets.

confluent-kafka 2.16 neither lists nor describes share groups, so these go over `share_connection`
with the request bodies of `share_protocol`. The figures are the broker's own, as Apache Kafka's
`kafka-share-groups` tool prints them: the lag is what the broker reports per share-partition
(DescribeShareGroupOffsets v1), not log end minus start offset, because records past the start
offset that were already acknowledged are not lag.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from groups.kafka import share_protocol as wire
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
from groups.kafka.values import TP, ConsoleError

# Share groups are Empty, Stable or Dead; Kafka's tool resets only Empty (or Dead) ones.
SHARE_INACTIVE_STATES = frozenset({"Empty", "Dead"})


class ShareGroupNotFound(ConsoleError):
    """No share group has this id (it may be a consumer group, or not exist at all)."""

    @property
    def not_found(self) -> bool:
        return True


@dataclass(frozen=True)
class ShareGroupListing:
    group_id: str
    state: str


@dataclass(frozen=True)
class ShareMember:
    member_id: str
    client_id: str
    host: str
    rack: str | None
    member_epoch: int
    subscribed_topics: tuple[str, ...]
    assignment: tuple[TP, ...]

    @property
    def display_host(self) -> str:
        # Kafka reports the client address as '/10.0.0.5' (Java's InetAddress form).
        return self.host.removeprefix("/")


@dataclass(frozen=True)
class ShareGroupDescription:
    group_id: str
    state: str
    group_epoch: int
    assignment_epoch: int
    assignor: str
    coordinator: str
    members: tuple[ShareMember, ...]

    @property
    def is_active(self) -> bool:
        return self.state not in SHARE_INACTIVE_STATES


@dataclass(frozen=True)
class SharePartitionOffset:
    """A share-partition's start offset (None until the group first reads the partition) and the broker's
    lag (None where it reports none); `error` is Kafka's error for this partition, if any."""

    tp: TP
    start_offset: int | None
    leader_epoch: int | None
    lag: int | None
    error: str | None = None


@dataclass(frozen=True)
class ShareGroupState:
    """A share group as its page shows it: description and start offsets, read from its coordinator together."""

    description: ShareGroupDescription
    offsets: tuple[SharePartitionOffset, ...]


class ShareClient:
    """Share-group requests against one cluster, given its librdkafka-style client settings."""

    def __init__(self, config: dict[str, str], timeout: float):
        self._config = config
        self.bootstrap = config["bootstrap.servers"]
        self.timeout = timeout

    # -- connections -------------------------------------------------------------------------------

    def _connect(self, host: str, port: int) -> BrokerConnection:
        return BrokerConnection(host, port, self._config, self.timeout)

    # -- reads -------------------------------------------------------------------------------------

    def list_share_groups(self) -> list[ShareGroupListing]:
        """Every share group of the cluster with its state, sorted by id (ListGroups v5 with type "share",
        sent to every broker, as each lists only the groups it coordinates)."""
        with connect_bootstrap(self._config, self.timeout) as bootstrap:
            brokers = bootstrap.brokers()
        found: dict[str, str] = {}
        for broker in brokers:
            with self._connect(broker.host, broker.port) as connection:
                found.update((g.group_id, g.state) for g in connection.list_groups(("share",)))
        return [ShareGroupListing(group_id, state) for group_id, state in sorted(found.items())]

    def describe(self, group_id: str) -> ShareGroupDescription:
        """State, epochs, assignor and members of a share group; ShareGroupNotFound if there is none."""
        return on_coordinator(
            self._config,
            self.timeout,
            group_id,
            lambda connection, coordinator: _describe(connection, coordinator, group_id),
        )

    def start_offsets(self, group_id: str) -> tuple[SharePartitionOffset, ...]:
        """Start offset and lag of every share-partition the group has state for, sorted by topic and partition."""
        return on_coordinator(
            self._config, self.timeout, group_id, lambda connection, _: _start_offsets(connection, group_id)
        )

    def read(self, group_id: str) -> ShareGroupState:
        """`describe` and `start_offsets` over one connection to the group's coordinator."""

        def both(connection: BrokerConnection, coordinator: Broker) -> ShareGroupState:
            return ShareGroupState(_describe(connection, coordinator, group_id), _start_offsets(connection, group_id))

        return on_coordinator(self._config, self.timeout, group_id, both)

    # -- the one write -----------------------------------------------------------------------------

    def alter_start_offsets(self, group_id: str, offsets: dict[TP, int]) -> None:
        """Set the start offset of each share-partition (AlterShareGroupOffsets v0). Kafka accepts this only
        while the group has no members; every partition's error is checked, none is left to the caller."""
        if not offsets:
            return
        by_topic: dict[str, dict[int, int]] = {}
        for tp, offset in offsets.items():
            by_topic.setdefault(tp.topic, {})[tp.partition] = offset

        def alter(connection: BrokerConnection, _: Broker) -> None:
            doing = f"setting the start offsets of share group '{group_id}'"
            _require(connection, wire.ALTER_SHARE_GROUP_OFFSETS, 0, doing)
            body = connection.call(
                wire.ALTER_SHARE_GROUP_OFFSETS,
                0,
                wire.encode_alter_share_group_offsets(group_id, by_topic),
                doing=doing,
            )
            result = decoded(wire.decode_alter_share_group_offsets, body, connection.address)
            if result.error_code:
                raise _group_error(result.error_code, result.error_message, doing, connection.address, group_id)
            failed = [p for p in result.partitions if p.error_code]
            if failed:
                names = ", ".join(
                    f"{TP(p.topic, p.partition)} ({error_name(p.error_code)}: {p.error_message or 'no detail'})"
                    for p in failed
                )
                raise ConsoleError(
                    f"Kafka refused the new start offsets of share group '{group_id}' for {names}.",
                    code=error_name(failed[0].error_code),
                )

        on_coordinator(self._config, self.timeout, group_id, alter)


def _describe(connection: BrokerConnection, coordinator: Broker, group_id: str) -> ShareGroupDescription:
    doing = f"describing share group '{group_id}'"
    _require(connection, wire.SHARE_GROUP_DESCRIBE, 1, doing)
    body = connection.call(wire.SHARE_GROUP_DESCRIBE, 1, wire.encode_share_group_describe([group_id]), doing=doing)
    (group,) = decoded(wire.decode_share_group_describe, body, connection.address)
    if group.error_code:
        raise _group_error(group.error_code, group.error_message, doing, connection.address, group_id)
    members = tuple(
        sorted(
            (
                ShareMember(
                    member_id=m.member_id,
                    client_id=m.client_id,
                    host=m.client_host,
                    rack=m.rack_id,
                    member_epoch=m.member_epoch,
                    subscribed_topics=tuple(sorted(m.subscribed_topics)),
                    assignment=tuple(sorted(TP(t.topic, p) for t in m.assignment for p in t.partitions)),
                )
                for m in group.members
            ),
            key=lambda m: m.member_id,
        )
    )
    return ShareGroupDescription(
        group_id=group.group_id,
        state=group.state,
        group_epoch=group.group_epoch,
        assignment_epoch=group.assignment_epoch,
        assignor=group.assignor,
        coordinator=str(coordinator),
        members=members,
    )


def _start_offsets(connection: BrokerConnection, group_id: str) -> tuple[SharePartitionOffset, ...]:
    doing = f"reading the start offsets of share group '{group_id}'"
    version = min(1, _require(connection, wire.DESCRIBE_SHARE_GROUP_OFFSETS, 0, doing))
    request = wire.encode_describe_share_group_offsets({group_id: None})
    body = connection.call(wire.DESCRIBE_SHARE_GROUP_OFFSETS, version, request, doing=doing)
    (group,) = decoded(lambda b: wire.decode_describe_share_group_offsets(b, version), body, connection.address)
    if group.error_code:
        raise _group_error(group.error_code, group.error_message, doing, connection.address, group_id)
    return partition_offsets(group)


def partition_offsets(group: wire.ShareGroupOffsets) -> tuple[SharePartitionOffset, ...]:
    """A DescribeShareGroupOffsets group entry's share-partitions, sorted by topic and partition."""
    # As Kafka's admin client reads them: a negative start offset means the share-partition has no state
    # yet, and a negative lag that the broker could not tell it.
    return tuple(
        sorted(
            (
                SharePartitionOffset(
                    tp=TP(p.topic, p.partition),
                    start_offset=p.start_offset if p.start_offset >= 0 and not p.error_code else None,
                    leader_epoch=p.leader_epoch if p.leader_epoch >= 0 and not p.error_code else None,
                    lag=p.lag if p.lag >= 0 and p.start_offset >= 0 and not p.error_code else None,
                    error=f"{error_name(p.error_code)}: {p.error_message or 'no detail'}" if p.error_code else None,
                )
                for p in group.partitions
            ),
            key=lambda offset: offset.tp,
        )
    )


def _require(connection: BrokerConnection, api_key: int, version: int, doing: str) -> int:
    """The highest version of `api_key` the broker accepts, if it accepts `version`; else a ConsoleError."""
    supported = connection.supported(api_key)
    if supported is None or not supported[0] <= version <= supported[1]:
        enabled = connection.features.get("share.version", 0)
        hint = (
            "share groups are not enabled on this cluster (feature share.version is 0; "
            "`kafka-features --upgrade --feature share.version=1` enables them)"
            if not enabled
            else "share groups need Kafka 4.1 or newer"
        )
        raise ConsoleError(f"Kafka at {connection.address} cannot answer while {doing}: {hint}.", code="UNSUPPORTED")
    return supported[1]


def _group_error(code: int, message: str | None, doing: str, address: str, group_id: str = "") -> ConsoleError:
    name = error_name(code)
    detail = f" ({message})" if message else ""
    if name == "GROUP_ID_NOT_FOUND":
        # The coordinator answers the same code for a group of another type, and says so in its message.
        if message and "not a share group" in message:
            return ShareGroupNotFound(
                f"Group '{group_id}' exists on this cluster but is not a share group: open it from the group list.",
                code=name,
            )
        return ShareGroupNotFound(
            f"There is no share group '{group_id}' on this cluster: check the name, or it was deleted.", code=name
        )
    if name == "NON_EMPTY_GROUP":
        return ConsoleError(
            f"Share group '{group_id}' has active members, so Kafka refused to change its start offsets. "
            "Stop every share consumer of the group (its state must be Empty), then preview again.",
            code=name,
        )
    if name in ("GROUP_AUTHORIZATION_FAILED", "TOPIC_AUTHORIZATION_FAILED"):
        return ConsoleError(f"Kafka refused {doing}: the console's credentials lack the ACL for it{detail}.", code=name)
    if name in COORDINATOR_BUSY:
        return ConsoleError(
            f"The group coordinator is not available while {doing} ({name}); try again in a moment.",
            code=name,
            retriable=True,
        )
    return ConsoleError(f"Kafka at {address} failed while {doing}: {name}{detail}.", code=name)


def share_client_for(cluster) -> ShareClient:
    """A share-group client for a `Cluster` row, with the same settings as its AdminClient."""
    return ShareClient(cluster_config(cluster), settings.KAFKA_REQUEST_TIMEOUT)
