"""The console's only door to Kafka: typed facts out, one error type with a readable message.

Every admin call is issued for all its subjects at once and the futures are gathered
afterwards, so a page costs a few round trips whatever the number of groups or partitions.
Per-partition errors inside admin results are checked here, never left to callers.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import NamedTuple

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    ConsumerGroupType,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec, ResourceType
from django.conf import settings

from .kafka_offsets import HelperDied, OffsetFetcher
from .kafka_refusals import REFUSAL_CODES, Refusal, recent_refusal, refusal_message, refusal_recorder

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

    @property
    def not_found(self) -> bool:
        """Whether what was asked for does not exist (a 404), rather than Kafka failing to answer."""
        return False


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

    @property
    def has_instance_ids(self) -> bool:
        """Whether any member is static (has a group.instance.id), so the member table needs that column."""
        return any(m.instance_id for m in self.members)


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


# Kafka writes "no limit" as Long.MAX_VALUE.
_LONG_MAX = 2**63 - 1


@dataclass(frozen=True)
class TopicFacts:
    """What a copy into the topic depends on; limits are None where the topic sets none."""

    name: str
    partitions: int
    timestamp_type: str
    retention_ms: int | None
    timestamp_after_max_ms: int | None
    timestamp_before_max_ms: int | None


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


def _config_limit(entries: dict, name: str) -> int | None:
    """A topic's millisecond limit, None when it sets none (-1 or Long.MAX_VALUE)."""
    entry = entries.get(name)
    value = int(entry.value) if entry is not None and entry.value not in (None, "") else -1
    return None if value < 0 or value >= _LONG_MAX else value


def _record(message) -> Record:
    stamp_type, stamp = message.timestamp()
    return Record(
        partition=message.partition(),
        offset=message.offset(),
        timestamp_ms=None if stamp_type == TIMESTAMP_NOT_AVAILABLE else stamp,
        key=message.key(),
        value=message.value(),
        headers=tuple(message.headers() or ()),
    )


def _refusal_of(admin: AdminClient | None, bootstrap: str) -> Refusal | None:
    """The refusal (see kafka_refusals) met by the failing request's admin client or, when that client is
    not known, by the only admin client of bootstrap: with several, one's refusal could be blamed for
    another's timeout."""
    with _clients_lock:
        found = [(key, client) for key, client in _clients.items()
                 if client is admin or (admin is None and dict(key)["bootstrap.servers"] == bootstrap)]
    if len(found) != 1:
        return None
    key, client = found[0]
    return recent_refusal(key, client, settings.KAFKA_REQUEST_TIMEOUT)


def _error_message(error: KafkaError, what: str, bootstrap: str, admin: AdminClient | None = None) -> ConsoleError:
    code = error.code()
    name = error.name()
    if code in REFUSAL_CODES or code in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
                                         KafkaError._RESOLVE):
        refusal = _refusal_of(admin, bootstrap)
        if code in REFUSAL_CODES:
            return ConsoleError(refusal_message(error, refusal.ca_location if refusal else None, bootstrap), code=name)
        if refusal is not None:
            return ConsoleError(refusal_message(refusal.error, refusal.ca_location, bootstrap),
                                code=refusal.error.name())
        return ConsoleError(
            f"Kafka at {bootstrap} did not answer while {what} ({error.str()}). "
            "Check that the brokers are up and reachable from the console.",
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
            raise _error_message(exc.args[0], what, self.bootstrap, self._admin) from None
        except FutureTimeout:
            raise self._timeout_error(what) from None

    def _timeout_error(self, what: str) -> ConsoleError:
        return ConsoleError(
            f"Kafka at {self.bootstrap} did not answer within {self.timeout:.0f}s while {what}. "
            "Check that the brokers are up and reachable from the console.",
            code="_TIMED_OUT",
            retriable=True,
        )

    def list_groups(self) -> list[GroupListing]:
        """Every consumer group (classic and KIP-848) the cluster knows, sorted by id."""
        result = self._result(
            self._admin.list_consumer_groups(request_timeout=self.timeout), "listing consumer groups"
        )
        if result.errors and not result.valid:
            error = result.errors[0]
            error = error.args[0] if isinstance(error, KafkaException) else error
            raise _error_message(error, "listing consumer groups", self.bootstrap, self._admin)
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

        Read in a helper process (see kafka_offsets: librdkafka can crash the process doing it);
        the API takes one group per request, and all requests are in flight together.
        """
        if not group_ids:
            return {}
        try:
            answers = offset_fetcher(self._config).fetch(list(group_ids), self.timeout)
        except HelperDied as exc:
            if exc.crashed:
                raise ConsoleError(
                    f"Reading committed offsets from {self.bootstrap} failed twice: the group coordinator "
                    "is moving or still loading, and the Kafka client crashed on its answer (in a helper "
                    "process; the console is fine). Try again in a moment.",
                    code="COORDINATOR_MOVING",
                    retriable=True,
                ) from None
            raise ConsoleError(
                f"The console's committed-offsets helper process failed (exit code {exc.returncode}); "
                "its error is in the console's log.",
                code="HELPER_FAILED",
            ) from None
        except TimeoutError:
            answers = {group_id: ("timeout", None) for group_id in group_ids}
        out: dict[str, dict[TP, int]] = {}
        for group_id in group_ids:
            what = f"reading the committed offsets of group '{group_id}'"
            status, value = answers[group_id]
            if status == "timeout":
                raise self._timeout_error(what)
            if status == "error":
                raise _error_message(_helper_error(value), what, self.bootstrap)
            offsets = {}
            for topic, partition, offset, error in value:
                if error is not None:
                    raise _error_message(_helper_error(error), f"reading the committed offset of {topic}-{partition}",
                                         self.bootstrap)
                if offset >= 0:
                    offsets[TP(topic, partition)] = offset
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
        """Number of partitions of each existing topic; topics that do not exist are left out.

        So are names no topic can have ('bad:name', 'ü'): the broker answers those with
        INVALID_TOPIC_EXCEPTION (TOPIC_EXCEPTION here), and the client refuses an empty name outright.
        """
        topics = sorted({topic for topic in topics if topic})
        if not topics:
            return {}
        futures = self._admin.describe_topics(TopicCollection(topics), request_timeout=self.timeout)
        out = {}
        for topic, future in futures.items():
            try:
                out[topic] = len(future.result(timeout=self.timeout + 5).partitions)
            except KafkaException as exc:
                if exc.args[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC,
                                          KafkaError.TOPIC_EXCEPTION):
                    continue
                raise _error_message(exc.args[0], f"describing topic '{topic}'", self.bootstrap) from None
        return out

    def offsets_for_time(self, partitions: list[TP], timestamp_ms: int, *,
                         read_committed: bool = False) -> dict[TP, int | None]:
        """First offset whose record timestamp is >= timestamp_ms; None where no such record exists.

        With read_committed the search stops at the last stable offset, as a transactional reader's would.
        """
        if not partitions:
            return {}
        futures = self._admin.list_offsets(
            {TopicPartition(tp.topic, tp.partition): OffsetSpec.for_timestamp(timestamp_ms) for tp in partitions},
            isolation_level=IsolationLevel.READ_COMMITTED if read_committed else IsolationLevel.READ_UNCOMMITTED,
            request_timeout=self.timeout,
        )
        out = {}
        for ktp, future in futures.items():
            tp = TP(ktp.topic, ktp.partition)
            offset = self._result(future, f"looking up the offset for a time on {tp}").offset
            out[tp] = offset if offset >= 0 else None
        return out

    def stable_offsets(self, partitions: list[TP]) -> dict[TP, int]:
        """The last stable offset of each partition: where an open transaction begins, else the high watermark."""
        if not partitions:
            return {}
        futures = self._admin.list_offsets(
            {TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in partitions},
            isolation_level=IsolationLevel.READ_COMMITTED,
            request_timeout=self.timeout,
        )
        return {TP(ktp.topic, ktp.partition): self._result(future, f"reading the last stable offset of {ktp.topic}-"
                                                                   f"{ktp.partition}").offset
                for ktp, future in futures.items()}

    def max_timestamps(self, partitions: list[TP]) -> dict[TP, tuple[int, int]]:
        """(offset, timestamp) of the record with the largest timestamp in each partition; empty ones left out."""
        if not partitions:
            return {}
        futures = self._admin.list_offsets(
            {TopicPartition(tp.topic, tp.partition): OffsetSpec.max_timestamp() for tp in partitions},
            isolation_level=IsolationLevel.READ_UNCOMMITTED,
            request_timeout=self.timeout,
        )
        out = {}
        for ktp, future in futures.items():
            info = self._result(future, f"looking up the latest timestamp of {ktp.topic}-{ktp.partition}")
            if info.offset >= 0 and info.timestamp >= 0:
                out[TP(ktp.topic, ktp.partition)] = (info.offset, info.timestamp)
        return out

    def topic_facts(self, topics: list[str]) -> dict[str, TopicFacts]:
        """Partition count and the configs that decide what a copy into the topic keeps; missing topics left out."""
        counts = self.topic_partition_counts(topics)
        if not counts:
            return {}
        futures = self._admin.describe_configs([ConfigResource(ResourceType.TOPIC, name) for name in sorted(counts)],
                                               request_timeout=self.timeout)
        out = {}
        for resource, future in futures.items():
            entries = self._result(future, f"reading the configuration of topic '{resource.name}'")
            stamp = entries.get("message.timestamp.type")
            out[resource.name] = TopicFacts(
                name=resource.name,
                partitions=counts[resource.name],
                timestamp_type=stamp.value if stamp is not None else "CreateTime",
                retention_ms=_config_limit(entries, "retention.ms"),
                timestamp_after_max_ms=_config_limit(entries, "message.timestamp.after.max.ms"),
                timestamp_before_max_ms=_config_limit(entries, "message.timestamp.before.max.ms"),
            )
        return out

    def read_records(self, topic: str, ranges: dict[int, tuple[int, int]], per_partition: int,
                     wait: float = 3.0) -> list[Record]:
        """The first `per_partition` committed records of each [start, end) range, by partition and offset.

        Reads with a consumer that joins no group and commits nothing. Partitions whose records do
        not arrive within `wait` seconds contribute what they delivered.
        """
        wanted = {p: (start, end) for p, (start, end) in ranges.items() if start < end}
        if not wanted or per_partition <= 0:
            return []
        consumer = Consumer({**self._config, "group.id": "kafka-console-replay-preview", "enable.auto.commit": False,
                             "enable.partition.eof": True, "isolation.level": "read_committed",
                             "auto.offset.reset": "earliest", "log.connection.close": False})
        found: dict[int, list[Record]] = {p: [] for p in wanted}
        open_partitions = set(wanted)
        try:
            consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in wanted.items()])
            deadline = time.monotonic() + wait
            while open_partitions and time.monotonic() < deadline:
                for message in consumer.consume(num_messages=per_partition * len(wanted), timeout=0.2):
                    p = message.partition()
                    if p not in open_partitions:
                        continue
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF and message.offset() >= wanted[p][1]:
                            open_partitions.discard(p)
                        continue
                    if message.offset() >= wanted[p][1]:
                        open_partitions.discard(p)
                        continue
                    found[p].append(_record(message))
                    if len(found[p]) >= per_partition or message.offset() + 1 >= wanted[p][1]:
                        open_partitions.discard(p)
        except KafkaException as exc:
            raise _error_message(exc.args[0], f"reading records of topic '{topic}'", self.bootstrap) from None
        finally:
            consumer.close()
        return [record for p in sorted(found) for record in found[p]]

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


@dataclass(frozen=True)
class CopyJob:
    """What a RangeCopier copies: per source partition a half-open [start, end) range, into `target`.

    `copy_id` names the job's private consumer group (its checkpoint) and its transactional id.
    `accept(key, headers)` selects records; the others are skipped, but their offsets still count
    as read. `partitioning` is "same" (partition for partition) or "key-hash" (Java's murmur2).
    """

    source: str
    target: str
    ranges: dict[int, tuple[int, int]]
    copy_id: str
    partitioning: str = "same"
    keep_timestamps: bool = True
    accept: Callable[[bytes | None, list | None], bool] | None = None
    throttle_rps: float | None = None
    transactional: bool = True


@dataclass(frozen=True)
class CopyProgress:
    """Where a copy stands as committed: next source offset and records copied, per partition."""

    ranges: dict[int, tuple[int, int]]
    positions: dict[int, int]
    copied: dict[int, int] = field(default_factory=dict)

    @property
    def total_copied(self) -> int:
        return sum(self.copied.values())

    @property
    def scanned(self) -> int:
        """Source offsets passed, copied or not (filtered records, transaction markers)."""
        return sum(self.positions[p] - start for p, (start, _) in self.ranges.items())

    @property
    def done(self) -> bool:
        return all(self.positions[p] >= end for p, (_, end) in self.ranges.items())


# Producer errors that mean "this run no longer owns the copy": a later run of the job started.
_FENCED = (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)
# Delivery failures an aborted and redone transaction can get past; anything else is the record's fault.
_TRANSIENT_DELIVERY = (KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
                       KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND)
_PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)
_DELIVERY_HINTS = {
    KafkaError.INVALID_TIMESTAMP: " A record's timestamp is outside what the target accepts "
                                  "(message.timestamp.before.max.ms / after.max.ms): stamp the copies now instead, "
                                  "or change the target's limits.",
    KafkaError.MSG_SIZE_TOO_LARGE: " A record is larger than the target accepts (max.message.bytes).",
}


class RangeCopier:
    """Copies ranges of one topic into another; exactly once for read_committed readers (KIP-447).

    Each transaction carries a batch of copies and, for every partition it advanced, the next
    source offset, committed to the job's private group with the partition's copy count as
    metadata. The group's committed offsets are therefore the checkpoint: a run that dies at any
    point leaves either its whole batch or none of it, and the next run resumes there.
    `init_transactions` fences an earlier run of the same job and aborts what it left open, which
    is why it comes before the checkpoint is read.

    The end of a range is found by position, never by counting records: transaction markers
    and aborted records take offsets but are never delivered.

    Without `transactional` the checkpoint is committed after a flush: a restart repeats what was
    written since the last checkpoint (at least once).
    """

    TRANSACTION_SECONDS = 0.5
    TRANSACTION_RECORDS = 200_000
    REPORT_SECONDS = 0.5
    BATCH = 10_000
    ABORTS_IN_A_ROW = 5

    def __init__(self, client: ClusterClient, job: CopyJob):
        self.client = client
        self.job = job
        self.progress = CopyProgress(job.ranges, {p: start for p, (start, _) in job.ranges.items()},
                                     {p: 0 for p in job.ranges})
        self._delivery_error: KafkaError | None = None
        self._in_transaction = False

    def _consumer(self) -> Consumer:
        return Consumer({
            **self.client._config,
            "group.id": self.job.copy_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            # Records deleted by retention mid-copy must stop the copy, not be skipped silently.
            "auto.offset.reset": "error",
            "fetch.max.bytes": 52_428_800,
            "max.partition.fetch.bytes": 10_485_760,
            "queued.min.messages": 200_000,
            # With the queue full, librdkafka waits this long before fetching again (1 s by default):
            # long enough for the copy to drain the queue and stall.
            "fetch.queue.backoff.ms": 50,
            "log.connection.close": False,
        })

    def _producer(self) -> Producer:
        config = {
            **self.client._config,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "message.max.bytes": 16_777_216,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            # librdkafka's default (CRC32) does not place keys where Java clients do.
            "partitioner": "murmur2_random",
            "delivery.report.only.error": True,
            "on_delivery": self._delivered,
            "log.connection.close": False,
        }
        if self.job.transactional:
            config["transactional.id"] = self.job.copy_id
            config["transaction.timeout.ms"] = 60_000
        return Producer(config)

    def _delivered(self, error: KafkaError | None, message) -> None:
        if error is not None and error.code() not in _PURGED and self._delivery_error is None:
            self._delivery_error = error

    def _fail(self, error: KafkaError, what: str) -> ConsoleError:
        if error.code() in _FENCED:
            return ConsoleError("Another run of this copy took over (it fenced this run's producer); this run stopped.",
                                code="FENCED")
        if error.code() in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE):
            return ConsoleError(f"Records of '{self.job.source}' still to be copied were deleted (retention or "
                                f"delete-records) during the copy: {error.str()}.", code=error.name())
        return _error_message(error, what, self.client.bootstrap)

    def _retry(self, call, what: str):
        """Run a producer call again while Kafka calls its failure retriable (as the client docs ask)."""
        for attempt in range(10):
            try:
                return call()
            except KafkaException as exc:
                error = exc.args[0]
                if not error.retriable() or error.txn_requires_abort() or attempt == 9:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_deliveries(self) -> None:
        """Raise for a copy the target refused for good; forget failures a redone batch can get past."""
        error, self._delivery_error = self._delivery_error, None
        if error is None or (self.job.transactional and (error.retriable() or error.code() in _TRANSIENT_DELIVERY)):
            return
        raise ConsoleError(f"Kafka refused a copy into '{self.job.target}': {error.str()}."
                           + _DELIVERY_HINTS.get(error.code(), ""), code=error.name())

    def _read_checkpoint(self, consumer: Consumer) -> CopyProgress:
        ranges = self.job.ranges
        try:
            found = consumer.committed([TopicPartition(self.job.source, p) for p in sorted(ranges)],
                                       timeout=self.client.timeout)
        except KafkaException as exc:
            raise _error_message(exc.args[0], f"reading the checkpoint of copy '{self.job.copy_id}'",
                                 self.client.bootstrap) from None
        positions, copied = dict(self.progress.positions), dict(self.progress.copied)
        for tp in found:
            if tp.error is not None:
                raise _error_message(tp.error, f"reading the checkpoint of {tp.topic}-{tp.partition}",
                                     self.client.bootstrap)
            if tp.offset >= 0:
                start, end = ranges[tp.partition]
                positions[tp.partition] = min(max(tp.offset, start), end)
                copied[tp.partition] = int(tp.metadata) if (tp.metadata or "").isascii() and tp.metadata.isdecimal() else 0
        return CopyProgress(ranges, positions, copied)

    def _assign(self, consumer: Consumer, positions: dict[int, int]) -> set[int]:
        """Fetch every unfinished partition from its position again; the set of those partitions."""
        ends = self.job.ranges
        active = {p for p, position in positions.items() if position < ends[p][1]}
        current = consumer.assignment()
        if current:
            consumer.incremental_unassign(current)
        if active:
            consumer.incremental_assign([TopicPartition(self.job.source, p, positions[p]) for p in sorted(active)])
        return active

    def _commit(self, consumer: Consumer, producer: Producer, positions: dict[int, int],
                copied: dict[int, int]) -> bool:
        """Make the batch and the positions durable together; False when the batch was aborted instead."""
        before = self.progress
        offsets = [TopicPartition(self.job.source, p, positions[p], metadata=str(copied[p]))
                   for p in sorted(positions)
                   if positions[p] != before.positions[p] or copied[p] != before.copied[p]]
        timeout = self.client.timeout
        if self.job.transactional:
            try:
                if not self._in_transaction:
                    producer.begin_transaction()
                    self._in_transaction = True
                self._retry(lambda: producer.send_offsets_to_transaction(
                    offsets, consumer.consumer_group_metadata(), timeout), "committing the copy's position")
                self._retry(lambda: producer.commit_transaction(timeout), "committing the copied records")
                self._in_transaction = False
            except KafkaException as exc:
                error = exc.args[0]
                if not error.txn_requires_abort():
                    raise self._fail(error, "committing the copied records") from None
                self._abort(producer)
                return False
            self._check_deliveries()
        else:
            remaining = producer.flush(timeout)
            self._check_deliveries()
            if remaining:
                raise ConsoleError(f"{remaining} copies were not acknowledged by Kafka at {self.client.bootstrap} "
                                   f"within {timeout:.0f}s; the copy stopped.", code="_TIMED_OUT", retriable=True)
            if offsets:
                try:
                    consumer.commit(offsets=offsets, asynchronous=False)
                except KafkaException as exc:
                    raise self._fail(exc.args[0], "committing the copy's position") from None
        self.progress = CopyProgress(self.job.ranges, dict(positions), dict(copied))
        return True

    def _abort(self, producer: Producer) -> None:
        producer.poll(0)  # the failed copies' reports say whether redoing the batch can help
        self._check_deliveries()
        try:
            self._retry(lambda: producer.abort_transaction(self.client.timeout), "aborting a failed batch")
        except KafkaException as exc:
            raise self._fail(exc.args[0], "aborting a failed batch") from None
        self._in_transaction = False
        self._delivery_error = None  # the aborted batch's purged copies report failures too

    def run(self, report: Callable[[CopyProgress], bool]) -> CopyProgress:
        """Copy from the checkpoint to the end of every range, or until `report` returns False.

        `report` gets the committed progress after every commit and at least every
        REPORT_SECONDS; when it answers False the work done so far is committed and the run
        returns. Returns the committed progress (`done` when every range is finished). Raises
        ConsoleError; code "FENCED" means a later run of the same job took over.
        """
        job = self.job
        consumer, producer = self._consumer(), self._producer()
        try:
            if job.transactional:
                try:
                    self._retry(lambda: producer.init_transactions(self.client.timeout), "starting transactions")
                except KafkaException as exc:
                    raise self._fail(exc.args[0], f"starting the transactions of copy '{job.copy_id}'") from None
            # Learn both topics' partitions now: a consumer assigned a topic it has no metadata for
            # waits for its next periodic refresh (up to a second) before fetching anything.
            try:
                consumer.list_topics(job.source, self.client.timeout)
                producer.list_topics(job.target, self.client.timeout)
            except KafkaException as exc:
                raise self._fail(exc.args[0], f"reading the metadata of '{job.source}' and '{job.target}'") from None
            self.progress = self._read_checkpoint(consumer)
            if not report(self.progress):
                return self.progress

            def reporting(progress: CopyProgress) -> bool:
                answer = report(progress)
                gc.collect(1)  # what the report (or anything else) left in cycles meanwhile
                return answer

            # The copy allocates about ten objects per record and no reference cycles, so the cyclic
            # collector only walks each batch's messages over and over: off while copying, it cut
            # the copier's CPU per million records from 2.0 s to 1.5 s (user time, measured).
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                return self._copy(consumer, producer, reporting)
            finally:
                if gc_was_enabled:
                    gc.enable()
        finally:
            if self._in_transaction:
                try:
                    producer.abort_transaction(5)
                except KafkaException:
                    pass  # the next run's init_transactions aborts it anyway
            consumer.close()

    def _copy(self, consumer: Consumer, producer: Producer, report: Callable[[CopyProgress], bool]) -> CopyProgress:
        job = self.job
        source, target, accept, keep = job.source, job.target, job.accept, job.keep_timestamps
        same = job.partitioning == "same"
        ends = {p: end for p, (_, end) in job.ranges.items()}
        positions, copied = dict(self.progress.positions), dict(self.progress.copied)
        active = self._assign(consumer, positions)
        produce, consume, poll = producer.produce, consumer.consume, producer.poll
        transactional = job.transactional
        rate = float(job.throttle_rps) if job.throttle_rps else None
        capacity = max(1.0, rate * 0.2) if rate else 0.0
        tokens, refilled = 1.0, time.monotonic()
        batch_started = last_report = time.monotonic()
        dirty, pending, aborts = False, 0, 0

        def rewind() -> set[int]:
            nonlocal dirty, pending
            positions.update(self.progress.positions)
            copied.update(self.progress.copied)
            dirty, pending = False, 0
            return self._assign(consumer, positions)

        while True:
            now = time.monotonic()
            if dirty and (not active or pending >= self.TRANSACTION_RECORDS
                          or now - batch_started >= self.TRANSACTION_SECONDS):
                if self._commit(consumer, producer, positions, copied):
                    dirty, pending, aborts = False, 0, 0
                    last_report = now
                    if not report(self.progress):
                        return self.progress
                else:
                    aborts += 1
                    if aborts > self.ABORTS_IN_A_ROW:
                        raise ConsoleError(f"Kafka aborted {aborts} batches in a row while copying into '{target}'; "
                                           "the copy stopped at its last committed position.", code="ABORTED")
                    active = rewind()
                continue
            if not active:
                return self.progress
            if now - last_report >= self.REPORT_SECONDS:
                last_report = now
                if not report(self.progress):
                    if dirty:
                        self._commit(consumer, producer, positions, copied)
                    return self.progress
            budget = self.BATCH
            if rate:
                tokens, refilled = min(capacity, tokens + (now - refilled) * rate), now
                if tokens < 1:
                    time.sleep(min(0.1, (1 - tokens) / rate))
                    continue
                budget = min(budget, int(tokens))
            messages = consume(budget, 0.1)
            poll(0)
            if not messages:
                continue
            if not dirty:
                batch_started = now
            finished = []
            produced = 0
            try:
                if transactional and not self._in_transaction:
                    producer.begin_transaction()
                    self._in_transaction = True
                for message in messages:
                    error = message.error()
                    p = message.partition()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            if message.offset() >= ends.get(p, 0) and p in active:
                                positions[p] = ends[p]
                                finished.append(p)
                                dirty = True
                            continue
                        if error.retriable() and not error.fatal():
                            continue
                        raise self._fail(error, f"reading {source}-{p}")
                    offset = message.offset()
                    end = ends[p]
                    if offset >= end or offset < positions[p]:
                        if offset >= end and positions[p] < end:
                            positions[p] = end
                            finished.append(p)
                            dirty = True
                        continue
                    positions[p] = offset + 1
                    dirty = True
                    if accept is None or accept(message.key(), message.headers()):
                        stamp = message.timestamp()[1] if keep else 0
                        while True:
                            try:
                                # Positional (topic, value, key, partition, on_delivery, callback, timestamp,
                                # headers): parsing keywords costs more than the rest of the copy per record.
                                produce(target, message.value(), message.key(), p if same else -1, None, None,
                                        stamp if stamp > 0 else 0, message.headers())
                                break
                            except BufferError:
                                poll(0.05)
                        copied[p] += 1
                        produced += 1
                    if offset + 1 >= end:
                        finished.append(p)
            except KafkaException as exc:
                error = exc.args[0]
                if not (transactional and error.txn_requires_abort()):
                    raise self._fail(error, f"copying into '{target}'") from None
                self._abort(producer)
                aborts += 1
                if aborts > self.ABORTS_IN_A_ROW:
                    raise ConsoleError(f"Kafka aborted {aborts} batches in a row while copying into '{target}'; "
                                       "the copy stopped at its last committed position.", code="ABORTED") from None
                active = rewind()
                continue
            pending += produced
            if rate:
                tokens -= produced
            if finished:
                done = [p for p in set(finished) if p in active]
                active.difference_update(done)
                if done:
                    consumer.incremental_unassign([TopicPartition(source, p) for p in done])


# Idle brokers close connections; librdkafka reconnects silently, so don't log each close.
_ADMIN_EXTRA = {"log.connection.close": False, "socket.connection.setup.timeout.ms": 5000}
# One helper per cluster, so that a cluster slow to answer never holds up reading another's offsets.
_offset_fetchers: dict[tuple, OffsetFetcher] = {}


def offset_fetcher(config: dict[str, str]) -> OffsetFetcher:
    key = tuple(sorted(config.items()))
    with _clients_lock:
        fetcher = _offset_fetchers.get(key)
        if fetcher is None:
            fetcher = _offset_fetchers[key] = OffsetFetcher({**config, **_ADMIN_EXTRA})
        return fetcher


def _helper_error(error: tuple[int, str, bool]) -> KafkaError:
    """A KafkaError again from the (code, text, retriable) the helper sends."""
    code, text, retriable = error
    return KafkaError(code, text, retriable=retriable)


def _after_fork_in_child() -> None:
    for fetcher in _offset_fetchers.values():
        fetcher.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)

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
            recorder = refusal_recorder(key, cluster.ssl_ca_location)
            admin = AdminClient({**config, **_ADMIN_EXTRA, "error_cb": recorder})
            _clients[key] = admin
    return ClusterClient(admin, cluster.bootstrap_servers, settings.KAFKA_REQUEST_TIMEOUT, config)
