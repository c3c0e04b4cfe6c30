"""Reading a topic's records for a person to look at: the record browser and the reset preview.

Each read uses a short-lived consumer that is assigned its partitions at explicit offsets. It
never subscribes, so it never joins a group, and it commits nothing (confluent-kafka refuses to
build a consumer without a group.id, so it carries one that no group of the cluster is meant to
use). Every read ends by the client's request timeout, with what arrived by then.

Records are read uncommitted, as Kafka's own console consumer reads them: what the log holds,
records of aborted transactions included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from groups.kafka.admin import ClusterClient
from groups.kafka.convert import console_error
from groups.kafka.values import TP, ConsoleError, Consumed

READER_GROUP_ID = "kafka-console-record-reader"
TIMESTAMP_TYPES = {TIMESTAMP_CREATE_TIME: "CreateTime", TIMESTAMP_LOG_APPEND_TIME: "LogAppendTime"}
# How long one consume call may wait, so a read notices its deadline and its goal soon after either.
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class FetchedRecord:
    """One record as read: where it sits, when it was stamped and by whom, and its bytes."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    timestamp_type: str | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]

    @property
    def size(self) -> int:
        """Bytes of key, value and headers (names and values): what the record carries, without framing."""
        return (
            len(self.key or b"")
            + len(self.value or b"")
            + sum(len(name.encode()) + len(value or b"") for name, value in self.headers)
        )


@dataclass(frozen=True)
class Scan:
    """What one pass over [start, stop) of a partition found.

    `records` are those the filter accepted, by offset; `scanned` counts every record looked at.
    Offsets from `start` up to `next_offset` were read (the next pass continues there); `timed_out`
    says the deadline ended the pass before its goal.
    """

    records: tuple[FetchedRecord, ...]
    scanned: int
    start: int
    next_offset: int
    timed_out: bool


RecordTest = Callable[[FetchedRecord], bool]


def _fetched(message: Consumed) -> FetchedRecord:
    stamp_type, stamp = message.timestamp()
    kind = TIMESTAMP_TYPES.get(stamp_type)
    return FetchedRecord(
        topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        timestamp_ms=stamp if kind is not None else None,
        timestamp_type=kind,
        key=message.key(),
        value=message.value(),
        headers=tuple(message.headers() or ()),
    )


def _consumer(client: ClusterClient) -> Consumer:
    config: dict[str, Any] = {
        **client.config,
        "group.id": READER_GROUP_ID,
        "client.id": "kafka-console-record-reader",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # The end of what a partition holds now is announced, so a read stops there instead of waiting.
        "enable.partition.eof": True,
        # An offset that left the log is reported, never silently replaced by another one.
        "auto.offset.reset": "error",
        "isolation.level": "read_uncommitted",
        "log.connection.close": False,
        # A fetch that reached the log end waits at most this long, so a re-assignment (the next window of a
        # backwards read) is not held up behind it.
        "fetch.wait.max.ms": 50,
    }
    return Consumer(config)


def _gone_error(tp: TP, error: KafkaError) -> ConsoleError:
    return ConsoleError(
        f"The offset asked for on {tp} is no longer in its log (retention or a deletion moved the log start "
        f"meanwhile: {error.str()}). Read again from the partition's log start.",
        code=error.name(),
    )


class RecordReader:
    """Reads records of one topic's partitions with one consumer, within one deadline for all its reads.

    Use as a context manager; the consumer is closed on leaving.
    """

    def __init__(self, client: ClusterClient, topic: str):
        self.topic = topic
        self._bootstrap = client.bootstrap
        self._deadline = time.monotonic() + client.timeout
        self._consumer = _consumer(client)

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._consumer.close()

    @property
    def time_left(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def offset_for_time(self, partition: int, timestamp_ms: int) -> int | None:
        """The first offset of `partition` whose record is stamped at or after `timestamp_ms`; None if none is."""
        tp = TP(self.topic, partition)
        try:
            found = self._consumer.offsets_for_times(
                [TopicPartition(self.topic, partition, timestamp_ms)], timeout=max(self.time_left, 0.1)
            )[0]
        except KafkaException as exc:
            raise console_error(exc.args[0], f"looking up the offset for a time on {tp}", self._bootstrap) from None
        if found.error is not None:
            raise console_error(found.error, f"looking up the offset for a time on {tp}", self._bootstrap)
        return found.offset if found.offset >= 0 else None

    def scan(
        self, partition: int, start: int, stop: int, *, want: int | None, accept: RecordTest | None, scan_limit: int
    ) -> Scan:
        """Read `partition` from `start` towards `stop` (excluded, and never past the log's end).

        Stops once `want` records were accepted (None: no such goal), `scan_limit` were looked at,
        `stop` or the end of the log is reached, or the deadline passes.
        """
        tp = TP(self.topic, partition)
        found: list[FetchedRecord] = []
        scanned, position = 0, start
        if start >= stop:
            return Scan((), 0, start, start, False)
        try:
            self._consumer.assign([TopicPartition(self.topic, partition, start)])
            while self.time_left > 0:
                batch = cast("list[Consumed]", self._consumer.consume(500, min(_POLL_SECONDS, self.time_left)))
                for message in batch:
                    if message.partition() != partition:
                        continue
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            # The log ends before `stop`: nothing more to read now.
                            if message.offset() >= position:
                                return Scan(tuple(found), scanned, start, max(position, message.offset()), False)
                            continue
                        if error.code() == KafkaError._AUTO_OFFSET_RESET:
                            raise _gone_error(tp, error)
                        raise console_error(error, f"reading records of {tp}", self._bootstrap)
                    offset = message.offset()
                    if offset < position:
                        continue  # fetched for an earlier assignment of this partition
                    if offset >= stop:
                        return Scan(tuple(found), scanned, start, stop, False)
                    record = _fetched(message)
                    scanned, position = scanned + 1, offset + 1
                    if accept is None or accept(record):
                        found.append(record)
                    if (want is not None and len(found) >= want) or scanned >= scan_limit or position >= stop:
                        return Scan(tuple(found), scanned, start, position, False)
        except KafkaException as exc:
            raise console_error(exc.args[0], f"reading records of {tp}", self._bootstrap) from None
        return Scan(tuple(found), scanned, start, position, True)


def first_records(client: ClusterClient, positions: dict[TP, int]) -> dict[TP, FetchedRecord | None]:
    """The first record at or after each position, all partitions read together within the deadline.

    None where the log holds nothing from the position on (it ends there); partitions whose answer
    did not arrive in time, or whose position left the log meanwhile, are left out.
    """
    if not positions:
        return {}
    found: dict[TP, FetchedRecord | None] = {}
    gone: set[TP] = set()
    consumer = _consumer(client)
    deadline = time.monotonic() + client.timeout
    try:
        consumer.assign([TopicPartition(tp.topic, tp.partition, offset) for tp, offset in positions.items()])
        while len(found) + len(gone) < len(positions) and time.monotonic() < deadline:
            wait = min(_POLL_SECONDS, max(deadline - time.monotonic(), 0.0))
            for message in cast("list[Consumed]", consumer.consume(len(positions), wait)):
                tp = TP(message.topic(), message.partition())
                if tp not in positions or tp in found or tp in gone:
                    continue
                error = message.error()
                if error is None:
                    found[tp] = _fetched(message)
                elif error.code() == KafkaError._PARTITION_EOF:
                    found[tp] = None
                elif error.code() == KafkaError._AUTO_OFFSET_RESET:
                    gone.add(tp)
                else:
                    raise console_error(error, f"reading the first record of {tp}", client.bootstrap)
    except KafkaException as exc:
        raise console_error(exc.args[0], "reading the first record of each partition", client.bootstrap) from None
    finally:
        consumer.close()
    return found
