"""One round's evaluation: from what the round read (and what the last snapshot carried) to snapshot rows.

Pure: no Django, no I/O. The collector reads Kafka and the console's database, hands the facts
here, and stores what comes back. The status window travels from round to round through the
rows' `window` fields: each round appends its observation of every group-partition (committed
offset) and topic-partition (log end) and keeps the last `window_rounds`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from groups.kafka import TP
from groups.kafka_collect import ClusterReading, GroupReading, PartitionReading
from groups.lag import partition_lag
from groups.snapshot import rows

_UNKNOWN_ENDS = PartitionReading(None, None)


@dataclass(frozen=True)
class Carried:
    """What the served snapshot hands to the next round: its window times and its rows' windows."""

    window_ms: tuple[int, ...] = ()
    group_windows: Mapping[str, str] = field(default_factory=dict)  # group id -> SnapshotGroup.window
    topic_windows: Mapping[str, str] = field(default_factory=dict)  # topic -> SnapshotTopic.window


@dataclass(frozen=True)
class ConsoleFacts:
    """What the console's own database knows about the groups it sees."""

    replay_operations: Mapping[str, int] = field(default_factory=dict)  # checkpoint group id -> replay op
    # group id -> (operation id, finished at, epoch ms) of this console's offset changes in the window
    moves: Mapping[str, Sequence[tuple[int, int]]] = field(default_factory=dict)


@dataclass(slots=True)
class GroupRow:
    """The values of one SnapshotGroup row."""

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


@dataclass(slots=True)
class TopicRow:
    """The values of one SnapshotTopic row."""

    topic: str
    internal: bool
    partitions: int
    messages: int | None
    groups: int
    lag: int | None
    detail: str
    window: str
    max_lag_seconds: float | None = None


@dataclass(frozen=True)
class Evaluated:
    window_ms: tuple[int, ...]
    groups: list[GroupRow]
    topics: list[TopicRow]
    partition_count: int
    summary: dict


def _carry(previous: Sequence[int | None], keep: int, value: int | None) -> list[int | None]:
    """The window of one key: the last `keep` values carried, then this round's."""
    return [*previous[len(previous) - keep:], value] if keep else [value]


def _sum_known(values) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def evaluate(reading: ClusterReading, carried: Carried, facts: ConsoleFacts, *, window_rounds: int) -> Evaluated:
    """Snapshot rows for every group and topic the round read, each carrying its status window."""
    window_ms = (*carried.window_ms, reading.t_ms)[-window_rounds:]
    keep = len(window_ms) - 1
    topics = _topic_ends(reading, carried, keep)
    readers: dict[str, dict[str, list[int | None]]] = {}  # topic -> group -> lags of its partitions there
    groups = []
    partition_count = 0
    for group_id in sorted(reading.groups):
        row, lags_by_topic = _group_row(reading.groups[group_id], reading, carried, facts, keep)
        groups.append(row)
        partition_count += row.partitions
        for topic, lags in lags_by_topic.items():
            readers.setdefault(topic, {})[group_id] = lags
    topic_rows = []
    for name in sorted(reading.topics):
        topic = reading.topics[name]
        partitions, window = topics[name]
        spans = [p.log_end - p.log_start for p in partitions if p.log_end is not None and p.log_start is not None]
        reading_groups = readers.get(name, {})
        group_details = [rows.TopicGroupDetail(g, len(lags), _sum_known(lags), "")
                         for g, lags in sorted(reading_groups.items())]
        topic_rows.append(TopicRow(
            topic=name, internal=topic.internal, partitions=topic.partitions,
            messages=sum(spans) if spans else None, groups=len(reading_groups),
            lag=_sum_known(d.lag for d in group_details),
            detail=rows.encode_topic_detail(partitions, group_details), window=window,
        ))
    summary = {
        "by_state": dict(Counter(g.state for g in groups)),
        "by_type": dict(Counter(g.type for g in groups)),
        "by_status": dict(Counter(g.status for g in groups if g.status)),
        "unreadable_groups": sum(1 for g in groups if g.error),
        "notes": list(reading.notes),
    }
    return Evaluated(window_ms=window_ms, groups=groups, topics=topic_rows, partition_count=partition_count,
                     summary=summary)


def _topic_ends(reading: ClusterReading, carried: Carried, keep: int
                ) -> dict[str, tuple[list[rows.TopicPartitionDetail], str]]:
    """Each topic's partition details and its log-end window."""
    out = {}
    for name, topic in reading.topics.items():
        previous = rows.decode_window(carried.topic_windows.get(name, "")).get(name, {})
        details, window = [], {}
        for p in range(topic.partitions):
            ends = reading.partitions.get(TP(name, p), _UNKNOWN_ENDS)
            details.append(rows.TopicPartitionDetail(p, ends.log_start, ends.log_end, ends.newest_offset,
                                                     ends.newest_ms))
            window[p] = _carry(previous.get(p, ()), keep, ends.log_end)
        out[name] = (details, rows.encode_window({name: window}))
    return out


def _group_row(group: GroupReading, reading: ClusterReading, carried: Carried, facts: ConsoleFacts,
               keep: int) -> tuple[GroupRow, dict[str, list[int | None]]]:
    """A group's row, and the lags of its partitions on each topic (for the topic rows)."""
    owners = {tp: member for member in group.members for tp in member.assignment}
    previous = rows.decode_window(carried.group_windows.get(group.group_id, ""))
    details, window = [], {}
    lags_by_topic: dict[str, list[int | None]] = {}
    for tp in sorted(set(owners) | set(group.committed)):
        committed = group.committed.get(tp)
        ends = reading.partitions.get(tp, _UNKNOWN_ENDS)
        lag = partition_lag(committed, ends.log_end)
        member = owners.get(tp)
        owner = rows.Owner(member.member_id, member.client_id, member.host, member.instance_id) if member else None
        details.append(rows.PartitionDetail(tp.topic, tp.partition, committed, ends.log_start, ends.log_end, lag,
                                            None, "", owner))
        window.setdefault(tp.topic, {})[tp.partition] = _carry(
            previous.get(tp.topic, {}).get(tp.partition, ()), keep, committed)
        if committed is not None:
            lags_by_topic.setdefault(tp.topic, []).append(lag)
    row = GroupRow(
        group_id=group.group_id,
        state=group.state,
        type=group.type,
        members=len(group.members),
        topics=sorted({d.topic for d in details}),
        partitions=len(details),
        lag=_sum_known(d.lag for d in details),
        detail=rows.encode_group_detail(details),
        window=rows.encode_window(window),
        error=group.error,
        replay_operation_id=facts.replay_operations.get(group.group_id),
    )
    return row, lags_by_topic
