"""The console's only door to Kafka: typed facts out, one error type with a readable message.

Every admin call is issued for all its subjects at once and the futures are gathered
afterwards, so a page costs a few round trips whatever the number of groups or partitions.
Per-partition errors inside admin results are checked here, never left to callers.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import NamedTuple

from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    ConsumerGroupType,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec
from django.conf import settings

class TP(NamedTuple):
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


class ConsoleError(Exception):
    """A failure described for the person at the screen: what happened and what to do."""

    def __init__(self, message: str, *, code: str = "", retriable: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retriable = retriable


# librdkafka knows the classic state names only; KIP-848's Assigning and Reconciling arrive as
# UNKNOWN, which is why "Unknown" must count as active everywhere.
STATE_NAMES = {
    ConsumerGroupState.STABLE: "Stable",
    ConsumerGroupState.EMPTY: "Empty",
    ConsumerGroupState.DEAD: "Dead",
    ConsumerGroupState.PREPARING_REBALANCING: "PreparingRebalance",
    ConsumerGroupState.COMPLETING_REBALANCING: "CompletingRebalance",
    ConsumerGroupState.UNKNOWN: "Unknown",
}
INACTIVE_STATES = frozenset({"Empty", "Dead"})
TYPE_NAMES = {
    ConsumerGroupType.CLASSIC: "classic",
    ConsumerGroupType.CONSUMER: "consumer",
    ConsumerGroupType.UNKNOWN: "unknown",
}


@dataclass(frozen=True)
class GroupListing:
    group_id: str
    state: str
    type: str


@dataclass(frozen=True)
class Member:
    member_id: str
    client_id: str
    host: str
    instance_id: str | None
    assignment: tuple[TP, ...]

    @property
    def display_host(self) -> str:
        # Kafka reports the client address as '/10.0.0.5' (Java's InetAddress form).
        return self.host.removeprefix("/")


@dataclass(frozen=True)
class GroupDescription:
    group_id: str
    state: str
    type: str
    assignor: str
    coordinator: str
    members: tuple[Member, ...]

    @property
    def is_active(self) -> bool:
        return self.state not in INACTIVE_STATES


@dataclass(frozen=True)
class LogOffsets:
    """Log start and end (high watermark, what the tool calls LOG-END-OFFSET) of a partition."""

    start: int | None
    end: int | None

    @property
    def span(self) -> int | None:
        """Offsets between start and end: the record count, less whatever compaction removed."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


def _error_message(error: KafkaError, what: str, bootstrap: str) -> ConsoleError:
    code = error.code()
    name = error.name()
    if code in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE):
        return ConsoleError(
            f"Kafka at {bootstrap} did not answer while {what} ({error.str()}). "
            "Check that the brokers are up and reachable from the console; the page retries by itself.",
            code=name,
            retriable=True,
        )
    if code in (KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED,
                KafkaError.CLUSTER_AUTHORIZATION_FAILED):
        return ConsoleError(
            f"Kafka refused {what}: the console's credentials lack the ACL for it ({error.str()}).", code=name
        )
    if code in (KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                KafkaError.NOT_COORDINATOR):
        return ConsoleError(
            f"The group coordinator is not available while {what} ({error.str()}); try again in a moment.",
            code=name,
            retriable=True,
        )
    if code == KafkaError._AUTHENTICATION or code == KafkaError.SASL_AUTHENTICATION_FAILED:
        return ConsoleError(
            f"Kafka at {bootstrap} rejected the console's credentials ({error.str()}). "
            "Check the cluster's SASL user and password source.",
            code=name,
        )
    return ConsoleError(f"Kafka failed while {what}: {error.str()}", code=name, retriable=error.retriable())


class ClusterClient:
    """Admin operations against one cluster, returning plain dataclasses."""

    def __init__(self, admin: AdminClient, bootstrap: str, timeout: float, config: dict[str, str]):
        self._admin = admin
        self._config = config
        self.bootstrap = bootstrap
        self.timeout = timeout

    def _result(self, future: Future, what: str):
        try:
            return future.result(timeout=self.timeout + 5)
        except KafkaException as exc:
            raise _error_message(exc.args[0], what, self.bootstrap) from None
        except FutureTimeout:
            raise ConsoleError(
                f"Kafka at {self.bootstrap} did not answer within {self.timeout:.0f}s while {what}. "
                "Check that the brokers are up; the page retries by itself.",
                code="_TIMED_OUT",
                retriable=True,
            ) from None

    def list_groups(self) -> list[GroupListing]:
        """Every consumer group (classic and KIP-848) the cluster knows, sorted by id."""
        result = self._result(
            self._admin.list_consumer_groups(request_timeout=self.timeout), "listing consumer groups"
        )
        if result.errors and not result.valid:
            error = result.errors[0]
            error = error.args[0] if isinstance(error, KafkaException) else error
            raise _error_message(error, "listing consumer groups", self.bootstrap)
        return sorted(
            (
                GroupListing(
                    group_id=g.group_id,
                    state=STATE_NAMES.get(g.state, "Unknown"),
                    type=TYPE_NAMES.get(g.type, "unknown"),
                )
                for g in result.valid
            ),
            key=lambda g: g.group_id,
        )

    def describe_groups(self, group_ids: list[str]) -> dict[str, GroupDescription]:
        """State, members and assignments; a group that does not exist comes back Dead with no members."""
        if not group_ids:
            return {}
        futures = self._admin.describe_consumer_groups(list(group_ids), request_timeout=self.timeout)
        out = {}
        for group_id, future in futures.items():
            d = self._result(future, f"describing group '{group_id}'")
            coordinator = f"{d.coordinator.host}:{d.coordinator.port} ({d.coordinator.id})" if d.coordinator else "-"
            out[group_id] = GroupDescription(
                group_id=group_id,
                state=STATE_NAMES.get(d.state, "Unknown"),
                type=TYPE_NAMES.get(d.type, "unknown"),
                assignor=d.partition_assignor or "",
                coordinator=coordinator,
                members=tuple(
                    Member(
                        member_id=m.member_id,
                        client_id=m.client_id,
                        host=m.host,
                        instance_id=m.group_instance_id,
                        assignment=tuple(
                            sorted(TP(tp.topic, tp.partition) for tp in (m.assignment.topic_partitions or []))
                        ),
                    )
                    for m in d.members
                ),
            )
        return out

    def committed_offsets(self, group_ids: list[str]) -> dict[str, dict[TP, int]]:
        """Committed offsets of each group (only partitions that have one).

        The API takes one group per request; all requests are in flight together.
        """
        futures = {
            group_id: self._admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group_id)], request_timeout=self.timeout
            )[group_id]
            for group_id in group_ids
        }
        out: dict[str, dict[TP, int]] = {}
        for group_id, future in futures.items():
            result = self._result(future, f"reading the committed offsets of group '{group_id}'")
            offsets = {}
            for tp in result.topic_partitions or []:
                if tp.error is not None:
                    raise _error_message(tp.error, f"reading the committed offset of {tp.topic}-{tp.partition}",
                                         self.bootstrap)
                if tp.offset >= 0:
                    offsets[TP(tp.topic, tp.partition)] = tp.offset
            out[group_id] = offsets
        return out

    def log_offsets(self, partitions: set[TP] | list[TP]) -> dict[TP, LogOffsets]:
        """Log start and high watermark of each partition; unknown (None) where a partition is gone."""
        partitions = sorted(set(partitions))
        if not partitions:
            return {}
        requests = {}
        for spec_name, spec in (("start", OffsetSpec.earliest()), ("end", OffsetSpec.latest())):
            requests[spec_name] = self._admin.list_offsets(
                {TopicPartition(tp.topic, tp.partition): spec for tp in partitions},
                isolation_level=IsolationLevel.READ_UNCOMMITTED,
                request_timeout=self.timeout,
            )
        found: dict[str, dict[TP, int | None]] = {"start": {}, "end": {}}
        for spec_name, futures in requests.items():
            for ktp, future in futures.items():
                tp = TP(ktp.topic, ktp.partition)
                try:
                    found[spec_name][tp] = future.result(timeout=self.timeout + 5).offset
                except KafkaException as exc:
                    error = exc.args[0]
                    # _NOENT: librdkafka's answer when none of the requested partitions has a leader,
                    # e.g. every one of them belongs to a topic deleted a moment ago.
                    if error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION,
                                        KafkaError._UNKNOWN_TOPIC, KafkaError.LEADER_NOT_AVAILABLE,
                                        KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._NOENT):
                        found[spec_name][tp] = None
                    else:
                        raise _error_message(error, f"reading the log offsets of {tp}", self.bootstrap) from None
                except FutureTimeout:
                    raise ConsoleError(
                        f"Kafka at {self.bootstrap} did not answer within {self.timeout:.0f}s while reading "
                        "log offsets.", code="_TIMED_OUT", retriable=True,
                    ) from None
        return {tp: LogOffsets(found["start"].get(tp), found["end"].get(tp)) for tp in partitions}

    def topic_partition_counts(self, topics: list[str]) -> dict[str, int]:
        """Number of partitions of each existing topic; topics that do not exist are left out."""
        if not topics:
            return {}
        futures = self._admin.describe_topics(TopicCollection(sorted(set(topics))), request_timeout=self.timeout)
        out = {}
        for topic, future in futures.items():
            try:
                out[topic] = len(future.result(timeout=self.timeout + 5).partitions)
            except KafkaException as exc:
                if exc.args[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                    continue
                raise _error_message(exc.args[0], f"describing topic '{topic}'", self.bootstrap) from None
        return out

    def offsets_for_time(self, partitions: list[TP], timestamp_ms: int) -> dict[TP, int | None]:
        """First offset whose record timestamp is >= timestamp_ms; None where no such record exists."""
        if not partitions:
            return {}
        futures = self._admin.list_offsets(
            {TopicPartition(tp.topic, tp.partition): OffsetSpec.for_timestamp(timestamp_ms) for tp in partitions},
            isolation_level=IsolationLevel.READ_UNCOMMITTED,
            request_timeout=self.timeout,
        )
        out = {}
        for ktp, future in futures.items():
            tp = TP(ktp.topic, ktp.partition)
            offset = self._result(future, f"looking up the offset for a time on {tp}").offset
            out[tp] = offset if offset >= 0 else None
        return out

    def alter_offsets(self, group_id: str, offsets: dict[TP, int]) -> None:
        """Commit absolute offsets for an inactive group in one request.

        The admin future succeeds even when partitions fail (e.g. the group gained members), so
        every partition's error is checked; any failure raises with the partitions named.
        """
        request = ConsumerGroupTopicPartitions(
            group_id, [TopicPartition(tp.topic, tp.partition, offset) for tp, offset in sorted(offsets.items())]
        )
        future = self._admin.alter_consumer_group_offsets([request], request_timeout=self.timeout)[group_id]
        result = self._result(future, f"committing offsets for group '{group_id}'")
        failed = [(TP(tp.topic, tp.partition), tp.error) for tp in result.topic_partitions if tp.error is not None]
        if not failed:
            return
        if any(error.code() in (KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS,
                                KafkaError.ILLEGAL_GENERATION) for _, error in failed):
            raise ConsoleError(
                f"Group '{group_id}' has active members, so Kafka refused the new offsets. Stop every consumer "
                "of the group (its state must be Empty), then preview again.",
                code="UNKNOWN_MEMBER_ID",
            )
        names = ", ".join(f"{tp} ({error.str()})" for tp, error in failed)
        raise ConsoleError(f"Kafka refused the new offsets of group '{group_id}' for {names}.", code=failed[0][1].name())

    def delete_group(self, group_id: str) -> None:
        """Delete an empty group and its committed offsets."""
        future = self._admin.delete_consumer_groups([group_id], request_timeout=self.timeout)[group_id]
        try:
            future.result(timeout=self.timeout + 5)
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() == KafkaError.NON_EMPTY_GROUP:
                raise ConsoleError(
                    f"Group '{group_id}' is not empty: stop its consumers before deleting it.", code=error.name()
                ) from None
            if error.code() == KafkaError.GROUP_ID_NOT_FOUND:
                raise ConsoleError(f"Group '{group_id}' does not exist (already deleted?).", code=error.name()) from None
            raise _error_message(error, f"deleting group '{group_id}'", self.bootstrap) from None
        except FutureTimeout:
            raise ConsoleError(f"Kafka at {self.bootstrap} did not answer in time while deleting group "
                               f"'{group_id}'; check the group before trying again.", code="_TIMED_OUT") from None

    def record_timestamps(self, positions: dict[TP, int], wait: float = 2.0) -> dict[TP, int]:
        """Timestamp (epoch ms) of the record each group would read next, for lag in time.

        Reads one record per partition with a consumer that joins no group and commits nothing.
        Where the offset was compacted away or deleted, the next surviving record stands in.
        Partitions whose record does not arrive within `wait` seconds are left out.
        """
        if not positions:
            return {}
        consumer = Consumer({
            **self._config,
            "group.id": "kafka-console-lag-probe",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "max.partition.fetch.bytes": 65536,
            "log.connection.close": False,
        })
        found: dict[TP, int] = {}
        try:
            consumer.assign([TopicPartition(tp.topic, tp.partition, offset) for tp, offset in positions.items()])
            deadline = time.monotonic() + min(wait, self.timeout)
            while len(found) < len(positions) and time.monotonic() < deadline:
                for message in consumer.consume(num_messages=len(positions), timeout=0.2):
                    tp = TP(message.topic(), message.partition())
                    if message.error() is None and tp in positions and tp not in found:
                        found[tp] = message.timestamp()[1]
        except KafkaException as exc:
            raise _error_message(exc.args[0], "reading record timestamps for lag in time", self.bootstrap) from None
        finally:
            consumer.close()
        return found

    def topic_names(self) -> list[str]:
        """Names of the cluster's topics, internal ones left out."""
        try:
            metadata = self._admin.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise _error_message(exc.args[0], "listing topics", self.bootstrap) from None
        return sorted(name for name in metadata.topics if not name.startswith("__"))


_clients: dict[tuple, AdminClient] = {}
_clients_lock = threading.Lock()


def client_for(cluster) -> ClusterClient:
    """A client for a `Cluster` row; the underlying AdminClient is kept for the process's life."""
    try:
        config = cluster.client_config()
    except ValueError as exc:
        raise ConsoleError(f"Cluster '{cluster.name}' is misconfigured: {exc}.", code="CONFIG") from None
    key = tuple(sorted(config.items()))
    with _clients_lock:
        admin = _clients.get(key)
        if admin is None:
            # Idle brokers close connections; librdkafka reconnects silently, so don't log each close.
            admin = AdminClient({**config, "log.connection.close": False,
                                 "socket.connection.setup.timeout.ms": 5000})
            _clients[key] = admin
    return ClusterClient(admin, cluster.bootstrap_servers, settings.KAFKA_REQUEST_TIMEOUT, config)
