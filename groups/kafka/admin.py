"""The console's admin client: reads of groups, offsets and topics, and the two writes (commit, delete).

Every admin call is issued for all its subjects at once and the futures are gathered
afterwards, so a page costs a few round trips whatever the number of groups or partitions.
Per-partition errors inside admin results are checked here, never left to callers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, cast

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec, ResourceType
from django.conf import settings

from groups.kafka import admin_clients, record_times
from groups.kafka.admin_clients import ADMIN_EXTRA, retiring_on_timeout
from groups.kafka.consumer_groups import with_true_states
from groups.kafka.convert import (
    STATE_NAMES,
    TYPE_NAMES,
    UNREACHABLE_CODES,
    config_limit,
    console_error,
    from_helper,
    record,
)
from groups.kafka.offsets_helper import HelperDied
from groups.kafka.refusals import REFUSAL_CODES, recent_refusal, refusal_message, refusal_recorder
from groups.kafka.values import (
    TP,
    ConsoleError,
    Consumed,
    GroupDescription,
    GroupListing,
    LogOffsets,
    Member,
    Record,
    TopicFacts,
    is_internal_topic,
)


class ClusterClient:
    """Admin operations against one cluster, returning plain dataclasses. It holds no AdminClient: each call asks
    groups.kafka.admin_clients for `key`'s (made by `make`), so that one given up is destroyed at once."""

    def __init__(
        self, key: tuple, make: Callable[[], AdminClient], bootstrap: str, timeout: float, config: dict[str, str]
    ):
        self._key = key
        self._make = make
        self._config = config
        self.bootstrap = bootstrap
        self.timeout = timeout

    @property
    def _admin(self) -> AdminClient:
        return admin_clients.kept(self._key, self._make)

    def retire_admin(self) -> None:
        """Give up this cluster's AdminClient: a call of it timed out (groups.kafka.admin_clients)."""
        admin_clients.retire(self._key)

    @property
    def config(self) -> dict[str, str]:
        """The cluster's client settings, for the consumers and producers of a copy (holds the secret)."""
        return dict(self._config)

    def _result(self, future: Future, what: str):
        try:
            return future.result(timeout=self.timeout + 5)
        except KafkaException as exc:
            raise self._error(exc.args[0], what) from None
        except FutureTimeout:
            raise self._timeout_error(what) from None

    def _error(self, error: KafkaError, what: str) -> ConsoleError:
        """`console_error`, unless this client met a refusal: librdkafka tells a wrong password or an
        untrusted certificate only to the client's error callback, and lets the request time out."""
        code = error.code()
        if code in REFUSAL_CODES or code in UNREACHABLE_CODES:
            refusal = recent_refusal(tuple(sorted(self._config.items())), self._admin, self.timeout)
            if code in REFUSAL_CODES:
                ca_location = refusal.ca_location if refusal else None
                return ConsoleError(refusal_message(error, ca_location, self.bootstrap), code=error.name())
            if refusal is not None:
                return ConsoleError(
                    refusal_message(refusal.error, refusal.ca_location, self.bootstrap), code=refusal.error.name()
                )
        return console_error(error, what, self.bootstrap)

    def _timeout_error(self, what: str) -> ConsoleError:
        reach = "Check that the brokers are up and reachable from the console."
        message = f"Kafka at {self.bootstrap} did not answer within {self.timeout:.0f}s while {what}. {reach}"
        return ConsoleError(message, code="_TIMED_OUT", retriable=True)

    @retiring_on_timeout
    def list_groups(self) -> list[GroupListing]:
        """Every consumer group (classic and KIP-848) the cluster knows, sorted by id."""
        result = self._result(self._admin.list_consumer_groups(request_timeout=self.timeout), "listing consumer groups")
        if result.errors and not result.valid:
            error = result.errors[0]
            error = error.args[0] if isinstance(error, KafkaException) else error
            raise self._error(error, "listing consumer groups")
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

    @retiring_on_timeout
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
        return with_true_states(self._config, self.timeout, out)

    @retiring_on_timeout
    def committed_offsets(self, group_ids: list[str]) -> dict[str, dict[TP, int]]:
        """Committed offsets of each group (only partitions that have one).

        Read in a helper process (see offsets_helper: librdkafka can crash the process doing it);
        the API takes one group per request, and all requests are in flight together.
        """
        if not group_ids:
            return {}
        try:
            answers = admin_clients.offset_fetcher(self._config).fetch(list(group_ids), self.timeout)
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
                raise console_error(from_helper(value), what, self.bootstrap)
            offsets = {}
            for topic, partition, offset, error in value:
                if error is not None:
                    raise console_error(
                        from_helper(error), f"reading the committed offset of {topic}-{partition}", self.bootstrap
                    )
                if offset >= 0:
                    offsets[TP(topic, partition)] = offset
            out[group_id] = offsets
        return out

    @retiring_on_timeout
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
                    if error.code() in (
                        KafkaError.UNKNOWN_TOPIC_OR_PART,
                        KafkaError._UNKNOWN_PARTITION,
                        KafkaError._UNKNOWN_TOPIC,
                        KafkaError.LEADER_NOT_AVAILABLE,
                        KafkaError.NOT_LEADER_FOR_PARTITION,
                        KafkaError._NOENT,
                    ):
                        found[spec_name][tp] = None
                    else:
                        raise console_error(error, f"reading the log offsets of {tp}", self.bootstrap) from None
                except FutureTimeout:
                    raise ConsoleError(
                        f"Kafka at {self.bootstrap} did not answer within {self.timeout:.0f}s while reading "
                        "log offsets.",
                        code="_TIMED_OUT",
                        retriable=True,
                    ) from None
        return {tp: LogOffsets(found["start"].get(tp), found["end"].get(tp)) for tp in partitions}

    @retiring_on_timeout
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
                if exc.args[0].code() in (
                    KafkaError.UNKNOWN_TOPIC_OR_PART,
                    KafkaError._UNKNOWN_TOPIC,
                    KafkaError.TOPIC_EXCEPTION,
                ):
                    continue
                raise console_error(exc.args[0], f"describing topic '{topic}'", self.bootstrap) from None
        return out

    @retiring_on_timeout
    def offsets_for_time(
        self, partitions: list[TP], timestamp_ms: int, *, read_committed: bool = False
    ) -> dict[TP, int | None]:
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

    @retiring_on_timeout
    def stable_offsets(self, partitions: list[TP]) -> dict[TP, int]:
        """The last stable offset of each partition: where an open transaction begins, else the high watermark."""
        if not partitions:
            return {}
        futures = self._admin.list_offsets(
            {TopicPartition(tp.topic, tp.partition): OffsetSpec.latest() for tp in partitions},
            isolation_level=IsolationLevel.READ_COMMITTED,
            request_timeout=self.timeout,
        )
        return {
            TP(ktp.topic, ktp.partition): self._result(
                future, f"reading the last stable offset of {ktp.topic}-{ktp.partition}"
            ).offset
            for ktp, future in futures.items()
        }

    @retiring_on_timeout
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

    @retiring_on_timeout
    def topic_facts(self, topics: list[str]) -> dict[str, TopicFacts]:
        """Partition count and the configs that decide what a copy into the topic keeps; missing topics left out."""
        counts = self.topic_partition_counts(topics)
        if not counts:
            return {}
        futures = self._admin.describe_configs(
            [ConfigResource(ResourceType.TOPIC, name) for name in sorted(counts)], request_timeout=self.timeout
        )
        out = {}
        for resource, future in futures.items():
            entries = self._result(future, f"reading the configuration of topic '{resource.name}'")
            stamp = entries.get("message.timestamp.type")
            out[resource.name] = TopicFacts(
                name=resource.name,
                partitions=counts[resource.name],
                timestamp_type=stamp.value if stamp is not None else "CreateTime",
                retention_ms=config_limit(entries, "retention.ms"),
                timestamp_after_max_ms=config_limit(entries, "message.timestamp.after.max.ms"),
                timestamp_before_max_ms=config_limit(entries, "message.timestamp.before.max.ms"),
            )
        return out

    @retiring_on_timeout
    def read_records(
        self, topic: str, ranges: dict[int, tuple[int, int]], per_partition: int, wait: float = 3.0
    ) -> list[Record]:
        """The first `per_partition` committed records of each [start, end) range, by partition and offset.

        Reads with a consumer that joins no group and commits nothing. Partitions whose records do
        not arrive within `wait` seconds contribute what they delivered.
        """
        wanted = {p: (start, end) for p, (start, end) in ranges.items() if start < end}
        if not wanted or per_partition <= 0:
            return []
        consumer = Consumer(
            {
                **self._config,
                "group.id": "kafka-console-replay-preview",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "log.connection.close": False,
            }
        )
        found: dict[int, list[Record]] = {p: [] for p in wanted}
        open_partitions = set(wanted)
        try:
            consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in wanted.items()])
            deadline = time.monotonic() + wait
            while open_partitions and time.monotonic() < deadline:
                for message in cast("list[Consumed]", consumer.consume(per_partition * len(wanted), 0.2)):
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
                    found[p].append(record(message))
                    if len(found[p]) >= per_partition or message.offset() + 1 >= wanted[p][1]:
                        open_partitions.discard(p)
        except KafkaException as exc:
            raise console_error(exc.args[0], f"reading records of topic '{topic}'", self.bootstrap) from None
        finally:
            consumer.close()
        return [record for p in sorted(found) for record in found[p]]

    @retiring_on_timeout
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
        if any(
            error.code()
            in (KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION)
            for _, error in failed
        ):
            raise ConsoleError(
                f"Group '{group_id}' has active members, so Kafka refused the new offsets. Stop every consumer "
                "of the group (its state must be Empty), then preview again.",
                code="UNKNOWN_MEMBER_ID",
            )
        names = ", ".join(f"{tp} ({error.str()})" for tp, error in failed)
        raise ConsoleError(
            f"Kafka refused the new offsets of group '{group_id}' for {names}.", code=failed[0][1].name()
        )

    @retiring_on_timeout
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
                raise ConsoleError(
                    f"Group '{group_id}' does not exist (already deleted?).", code=error.name()
                ) from None
            raise console_error(error, f"deleting group '{group_id}'", self.bootstrap) from None
        except FutureTimeout:
            raise ConsoleError(
                f"Kafka at {self.bootstrap} did not answer in time while deleting group "
                f"'{group_id}'; check the group before trying again.",
                code="_TIMED_OUT",
            ) from None

    def record_timestamps(self, positions: dict[TP, int], wait: float = 2.0) -> dict[TP, int]:
        """Timestamp (epoch ms) of the record each group would read next, for lag in time.

        Where the offset was compacted away or deleted, the next surviving record stands in.
        Partitions whose record does not arrive within `wait` seconds are left out.
        """
        found = self.record_times({tp: [offset] for tp, offset in positions.items()}, wait)
        return {tp: times[positions[tp]][1] for tp, times in found.items()}

    def record_times(
        self, wanted: Mapping[TP, Sequence[int]], wait: float = 2.0, *, read_through: int = 500
    ) -> dict[TP, dict[int, tuple[int, int]]]:
        """(record offset, timestamp) of the record at each wanted offset (groups.kafka.record_times)."""
        return record_times.read(
            self._config, self.bootstrap, wanted, min(wait, self.timeout), read_through=read_through
        )

    @retiring_on_timeout
    def topic_names(self) -> list[str]:
        """Names of the cluster's topics, internal ones left out."""
        try:
            metadata = self._admin.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise console_error(exc.args[0], "listing topics", self.bootstrap) from None
        return sorted(name for name in metadata.topics if not is_internal_topic(name))


def client_for(cluster) -> ClusterClient:
    """A client for a `Cluster` row; the underlying AdminClient is kept until a call of it times out
    (groups.kafka.admin_clients)."""
    try:
        config = cluster.client_config()
    except ValueError as exc:
        raise ConsoleError(f"Cluster '{cluster.name}' is misconfigured: {exc}.", code="CONFIG") from None
    key = tuple(sorted(config.items()))

    def make() -> AdminClient:
        recorder = refusal_recorder(key, cluster.ssl_ca_location)
        return AdminClient(cast(dict[str, Any], {**config, **ADMIN_EXTRA, "error_cb": recorder}))

    return ClusterClient(key, make, cluster.bootstrap_servers, settings.KAFKA_REQUEST_TIMEOUT, config)
