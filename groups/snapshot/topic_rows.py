"""A topic's snapshot row: its partitions' ends, and the groups reading it with their lag there.

Pure: no Django, no I/O. The round's evaluation (groups.snapshot.evaluate) hands over each topic's
log-end windows and log histories, which the row carries to the next round, and what every group
row said of the topic's partitions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from groups import estimates
from groups.kafka import TP
from groups.kafka.collect import UNKNOWN_ENDS, ClusterReading
from groups.lag import sum_lags
from groups.snapshot import rows, timelines

Readers = dict[str, dict[str, list[int | None]]]
"""topic -> group -> the lag of each of the group's partitions there."""


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
    history: str
    max_lag_seconds: float | None = None
    max_lag_seconds_method: str = ""
    max_lag_seconds_doubtful: bool = False


@dataclass(frozen=True)
class TopicState:
    """One topic's partitions this round: log-end windows and log histories."""

    ends: dict[int, list[int | None]]
    histories: dict[int, list[estimates.LogRound]]


def topic_rows(
    reading: ClusterReading,
    states: Mapping[str, TopicState],
    readers: Readers,
    worst: Mapping[str, estimates.LagSeconds],
    statuses: Mapping[str, str],
    checkpoints: Collection[str] = (),
) -> list[TopicRow]:
    """Every topic's row, by name; `worst` is the largest known lag in seconds of a group on each topic,
    `statuses` are the reading groups' (group id -> status). Replay checkpoint groups (`checkpoints`) are
    listed in a topic's detail, which its page shows on request, but counted in none of its figures: the
    pages leave them out of every other list and count."""
    out = []
    for name in sorted(reading.topics):
        topic = reading.topics[name]
        state = states[name]
        partitions = [
            rows.TopicPartitionDetail(p, ends.log_start, ends.log_end, ends.newest_offset, ends.newest_ms)
            for p in range(topic.partitions)
            for ends in [reading.partitions.get(TP(name, p), UNKNOWN_ENDS)]
        ]
        spans = [p.log_end - p.log_start for p in partitions if p.log_end is not None and p.log_start is not None]
        reading_groups = readers.get(name, {})
        group_details = [
            rows.TopicGroupDetail(g, len(lags), sum_lags(lags), statuses[g])
            for g, lags in sorted(reading_groups.items())
        ]
        counted = [d for d in group_details if d.group_id not in checkpoints]
        # With its method and doubt, as a group row gives its own figure.
        figure = worst.get(name)
        out.append(
            TopicRow(
                topic=name,
                internal=topic.internal,
                partitions=topic.partitions,
                messages=sum(spans) if spans else None,
                groups=len(counted),
                lag=sum_lags(d.lag for d in counted),
                max_lag_seconds=figure.seconds if figure else None,
                max_lag_seconds_method=figure.method if figure else "",
                max_lag_seconds_doubtful=figure.doubtful if figure else False,
                detail=rows.encode_topic_detail(partitions, group_details),
                window=rows.encode_window({name: state.ends}),
                history=timelines.encode(state.histories),
            )
        )
    return out
