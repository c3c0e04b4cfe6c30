"""What the Kafka package hands out and takes in: typed values and its one error type.

Plain Python only (no Kafka client import), so pure code such as `groups.planning` can use these
types without loading the client library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from confluent_kafka import KafkaError


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


# librdkafka names KIP-848's Assigning and Reconciling "Unknown"; describe_groups asks the coordinator for
# the true state (consumer_groups.with_true_states), and where it cannot, "Unknown" must count as active.
INACTIVE_STATES = frozenset({"Empty", "Dead"})


def is_internal_topic(name: str) -> bool:
    """Kafka's own topics (__consumer_offsets, __transaction_state, __share_group_state): the brokers'
    bookkeeping, which the console neither lists among a cluster's topics nor replays."""
    return name.startswith("__")


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
    # A streams group's source topics: what `kafka-streams-groups --all-input-topics` resets (not its
    # internal repartition topics). Empty for every other type.
    source_topics: tuple[str, ...] = ()

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


class Consumed(Protocol):
    """A message as a consumer hands it over: librdkafka always sets its topic, partition and offset
    there (the client's types allow None, for the messages a producer builds)."""

    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def error(self) -> KafkaError | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[Any] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


# A record filter: (key, headers) -> whether to copy the record.
RecordFilter = Callable[[bytes | None, list | None], bool]


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
    accept: RecordFilter | None = None
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


# How often a copy commits its checkpoint: a worker that dies loses (or, at least once, repeats)
# at most this much. Pure code states it in warnings, so it lives here rather than in the copier.
CHECKPOINT_SECONDS = 0.5
CHECKPOINT_RECORDS = 200_000
CHECKPOINT_CADENCE = f"one is taken every {CHECKPOINT_SECONDS:g} s or {CHECKPOINT_RECORDS:,} records copied"
