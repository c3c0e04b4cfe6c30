"""Lag arithmetic, with the semantics of `kafka-consumer-groups --describe`.

Pure functions over facts read by `groups.kafka`: lag is log end (high watermark) minus the
committed offset, unknown without a commit, and never clamped (a negative lag is a fact worth
seeing: the group committed past the end, e.g. after the topic was recreated).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from groups.kafka import TP, GroupDescription, LogOffsets, Member


def partition_lag(committed: int | None, log_end: int | None) -> int | None:
    """Messages between the committed offset and the log end; None when either is unknown."""
    if committed is None or committed < 0 or log_end is None:
        return None
    return log_end - committed


def time_lag_ms(lag: int | None, next_record_ms: int | None, now_ms: int) -> int | None:
    """Age of the oldest record the group has not read yet: 0 when caught up, None when unknown."""
    if lag is None:
        return None
    if lag <= 0:
        return 0
    if next_record_ms is None or next_record_ms < 0:
        return None
    return max(0, now_ms - next_record_ms)


@dataclass(frozen=True)
class PartitionRow:
    topic: str
    partition: int
    committed: int | None
    log_start: int | None
    log_end: int | None
    owner: Member | None
    time_lag_ms: int | None = None

    @property
    def lag(self) -> int | None:
        return partition_lag(self.committed, self.log_end)

    @property
    def committed_below_log_start(self) -> bool:
        """The records the group would read next were deleted (retention or delete-records)."""
        return self.committed is not None and self.log_start is not None and self.committed < self.log_start


def partition_rows(
    description: GroupDescription, committed: dict[TP, int], log_offsets: dict[TP, LogOffsets]
) -> list[PartitionRow]:
    """One row per partition the group owns or has committed for, as the tool's `--describe` lists them."""
    owners = {tp: member for member in description.members for tp in member.assignment}
    rows = []
    for tp in sorted(set(owners) | set(committed)):
        offsets = log_offsets.get(tp, LogOffsets(None, None))
        rows.append(
            PartitionRow(
                topic=tp.topic,
                partition=tp.partition,
                committed=committed.get(tp),
                log_start=offsets.start,
                log_end=offsets.end,
                owner=owners.get(tp),
            )
        )
    return rows


def max_time_lag(rows: list[PartitionRow]) -> int | None:
    """The group's lag in time: the oldest unread record over all partitions."""
    known = [row.time_lag_ms for row in rows if row.time_lag_ms is not None]
    return max(known) if known else None


def sum_lags(lags: Iterable[int | None]) -> int | None:
    """Sum of the known lags (Burrow's TotalLag); None when none is known (not 0: nothing was measured).

    A partition whose committed offset is past its log end (AHEAD: its lag is negative, as Kafka's tool
    prints it) has nothing unread, so it counts 0: summed as it is, one offset committed far ahead made a
    group's total, a topic's and the metrics hugely negative and hid what other partitions wait for."""
    known = [max(lag, 0) for lag in lags if lag is not None]
    return sum(known) if known else None


def total_lag(rows: list[PartitionRow]) -> int | None:
    """sum_lags of the rows."""
    return sum_lags(row.lag for row in rows)


@dataclass(frozen=True)
class GroupSummary:
    group_id: str
    state: str
    type: str
    members: int
    topics: tuple[str, ...]
    partitions: int
    lag: int | None


def summarize(description: GroupDescription, rows: list[PartitionRow]) -> GroupSummary:
    return GroupSummary(
        group_id=description.group_id,
        state=description.state,
        type=description.type,
        members=len(description.members),
        topics=tuple(sorted({row.topic for row in rows})),
        partitions=len(rows),
        lag=total_lag(rows),
    )
