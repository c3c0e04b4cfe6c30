"""A group's snapshot row, and the compact fields of snapshot rows: per-partition detail and the status
window, as JSON text.

A group's partitions live in one field, not one row each: at 10,000 groups a round would
otherwise write and delete about 115,000 rows. Pages filter and sort on the group's columns
and decode this field only for the rows they show. Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import orjson


class Owner(NamedTuple):  # a tuple: hashed once per owned partition when a round encodes its groups
    member_id: str
    client_id: str
    host: str
    instance_id: str | None


@dataclass(slots=True)
class GroupRow:
    """The values of one SnapshotGroup row; `detail` and `window` are this module's compact fields."""

    group_id: str
    state: str
    type: str
    members: int
    topics: list[str]
    partitions: int
    lag: int | None
    detail: str
    window: str
    error: str = ""
    replay_operation_id: int | None = None
    lag_seconds: float | None = None
    lag_seconds_method: str = ""
    lag_seconds_doubtful: bool = False
    status: str = ""
    status_reason: str = ""
    operation_id: int | None = None
    catch_up_seconds: float | None = None
    catch_up_note: str = ""
    retention_margin_seconds: float | None = None
    retention_note: str = ""


@dataclass(slots=True)  # not frozen: a round makes 100,000 of them and frozen init costs 4x
class PartitionDetail:
    """One partition of a group as a round saw it, and what the round made of it."""

    topic: str
    partition: int
    committed: int | None
    log_start: int | None
    log_end: int | None
    lag: int | None
    lag_seconds: float | None
    status: str
    owner: Owner | None
    status_reason: str = ""  # kept for statuses other than OK only: most partitions are OK
    operation_id: int | None = None  # the console operation a RESET status names
    lag_seconds_method: str = ""
    lag_seconds_doubtful: bool = False
    retention_seconds: float | None = None  # 0 once records were lost
    retention_state: str = ""  # groups.forecasts.RetentionMargin.state


@dataclass(slots=True)
class TopicPartitionDetail:
    partition: int
    log_start: int | None
    log_end: int | None
    newest_offset: int | None  # the record with the largest timestamp (ListOffsets max_timestamp)
    newest_ms: int | None

    @property
    def span(self) -> int | None:
        """Offsets between log start and log end (records, unless compaction removed some)."""
        return None if self.log_start is None or self.log_end is None else self.log_end - self.log_start


@dataclass(frozen=True)
class TopicGroupDetail:
    """A group reading a topic: how many of its partitions it has offsets on, and its lag there."""

    group_id: str
    partitions: int
    lag: int | None
    status: str


def _dumps(value) -> str:
    # orjson: a round writes about 20,000 of these texts and reads 10,000; the standard library's
    # json took a quarter of the round's evaluation at 10,000 groups.
    return orjson.dumps(value).decode()


def encode_group_detail(partitions: Iterable[PartitionDetail]) -> str:
    """{"owners": [[member, client, host, instance]], "topics": {topic: [[partition, committed, log start,
    log end, lag, lag seconds, status, owner index or null, status reason, operation id, lag seconds
    method, doubtful (0/1), retention seconds, retention state]]}}"""
    writer = GroupDetailWriter()
    for p in partitions:
        writer.add(
            p.topic,
            p.partition,
            p.committed,
            p.log_start,
            p.log_end,
            p.lag,
            p.lag_seconds,
            p.status,
            p.owner,
            p.status_reason,
            p.operation_id,
            p.lag_seconds_method,
            p.lag_seconds_doubtful,
            p.retention_seconds,
            p.retention_state,
        )
    return writer.text()


class GroupDetailWriter:
    """encode_group_detail's text built partition by partition, in PartitionDetail's field order, without one
    PartitionDetail per partition (the collector writes 100,000 a round)."""

    def __init__(self) -> None:
        self.owners: dict[Owner, int] = {}
        self.topics: dict[str, list] = {}

    def add(
        self,
        topic: str,
        partition: int,
        committed: int | None,
        log_start: int | None,
        log_end: int | None,
        lag: int | None,
        lag_seconds: float | None,
        status: str,
        owner: Owner | None,
        status_reason: str,
        operation_id: int | None,
        lag_seconds_method: str,
        lag_seconds_doubtful: bool,
        retention_seconds: float | None,
        retention_state: str,
    ) -> None:
        owners = self.owners
        index = None if owner is None else owners.setdefault(owner, len(owners))
        self.topics.setdefault(topic, []).append(
            [
                partition,
                committed,
                log_start,
                log_end,
                lag,
                lag_seconds,
                status,
                index,
                status_reason,
                operation_id,
                lag_seconds_method,
                int(lag_seconds_doubtful),
                retention_seconds,
                retention_state,
            ]
        )

    def clear_margins(self, partitions: Collection[tuple[str, int]]) -> None:
        """Clear the retention margin of these partitions (of a group that catches up or keeps pace)."""
        for topic, rows in self.topics.items():
            for p in rows:
                if (topic, p[0]) in partitions:
                    p[-2], p[-1] = None, ""

    def text(self) -> str:
        owners = [[o.member_id, o.client_id, o.host, o.instance_id] for o in self.owners]
        return _dumps({"owners": owners, "topics": self.topics})


def decode_group_detail(text: str) -> list[PartitionDetail]:
    data = orjson.loads(text)
    owners = [Owner(*o) for o in data["owners"]]
    return [
        PartitionDetail(
            topic,
            partition,
            committed,
            log_start,
            log_end,
            lag,
            lag_seconds,
            status,
            owners[owner] if owner is not None else None,
            reason,
            operation_id,
            method,
            bool(doubtful),
            retention_seconds,
            retention_state,
        )
        for topic, rows in data["topics"].items()
        for (
            partition,
            committed,
            log_start,
            log_end,
            lag,
            lag_seconds,
            status,
            owner,
            reason,
            operation_id,
            method,
            doubtful,
            retention_seconds,
            retention_state,
        ) in rows
    ]


def encode_topic_detail(partitions: Iterable[TopicPartitionDetail], groups: Iterable[TopicGroupDetail]) -> str:
    """{"partitions": [[partition, log start, log end, newest offset, newest ms]],
    "groups": [[group id, partitions, lag, status]]}"""
    return _dumps(
        {
            "partitions": [[p.partition, p.log_start, p.log_end, p.newest_offset, p.newest_ms] for p in partitions],
            "groups": [[g.group_id, g.partitions, g.lag, g.status] for g in groups],
        }
    )


def decode_topic_detail(text: str) -> tuple[list[TopicPartitionDetail], list[TopicGroupDetail]]:
    data = orjson.loads(text)
    return (
        [TopicPartitionDetail(*row) for row in data["partitions"]],
        [TopicGroupDetail(*row) for row in data["groups"]],
    )


# The status window: for each key (a group's partition, or a topic's partition), the values seen at
# the snapshot's window_ms, newest last. A key first seen k rounds ago has k values: the lists
# align with window_ms from its end.
#
# A group's window also keeps, under OWNED + topic (no topic name holds a "~"), for each partition a
# member owns, in how many of the latest rounds in a row one did: [n], at most the window's length.
OWNED = "~"


def encode_window(values: Mapping[str, Mapping[int, Sequence[int | None]]]) -> str:
    """{topic: [[partition, value, value, ...]]}, the values oldest first."""
    return _dumps(
        {
            topic: [[partition, *series] for partition, series in sorted(by_partition.items())]
            for topic, by_partition in values.items()
        }
    )


def decode_window(text: str) -> dict[str, dict[int, list[int | None]]]:
    if not text:
        return {}
    return {topic: {row[0]: row[1:] for row in rows} for topic, rows in orjson.loads(text).items()}
