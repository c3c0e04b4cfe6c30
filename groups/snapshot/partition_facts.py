"""What every group reading one topic partition shares in a round, worked out once per partition rather
than once per group (groups.snapshot.evaluate reads it for each of the partition's groups):

- its log ends over the status window, carried from round to round in the topic rows' `window`;
- its log history (groups.snapshot.timelines), carried in the topic rows' `history` as far back as its
  most lagging group needs, and the timeline that dates offsets from it;
- the log start's advance, which retention forecasts read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from groups import estimates, forecasts
from groups.kafka import TP
from groups.kafka.collect import UNKNOWN_ENDS, ClusterReading, PartitionReading
from groups.snapshot import rows, timelines
from groups.snapshot.topic_rows import TopicState

_NO_TIMELINE = estimates.Timeline(())


class PartitionFacts(NamedTuple):
    """What every group reading one topic partition shares this round."""

    reading: PartitionReading
    ends: Sequence[int | None]  # the log ends of the status window
    timeline: estimates.Timeline
    rate_history: Sequence[estimates.LogRound]  # what the log start's rate is measured on
    retention_ms: int | None
    steady_end: int | None = None  # the log end when the whole window saw it unchanged
    ends_continuous: bool = False  # the window's log ends are all known and never went down
    advance: forecasts.LogStartAdvance | None = None  # the log start's, over rate_history


def _carry(previous: Sequence[int | None], keep: int, value: int | None) -> list[int | None]:
    """The window of one key: the last `keep` values carried, then this round's."""
    return [*previous[max(0, len(previous) - keep) :], value] if keep else [value]


def _lagging_floor(reading: ClusterReading) -> dict[TP, int]:
    """The smallest committed offset of a group behind on each partition: how far back to date offsets."""
    floor: dict[TP, int] = {}
    for group in reading.groups.values():
        for tp, committed in group.committed.items():
            end = reading.partitions.get(tp, UNKNOWN_ENDS).log_end
            if end is not None and committed < end and committed < floor.get(tp, end):
                floor[tp] = committed
    return floor


def _rate_history(history: Sequence[estimates.LogRound]) -> tuple[estimates.LogRound, ...]:
    """The rounds the log start's rate is measured between: the first after the last discontinuity and the
    latest; the rounds between change nothing. Picked by position: after the clock stepped back, two rounds
    may share a time."""
    starts = [r for r in history if r.log_start is not None]
    if not starts:
        return ()
    first = estimates.continuous_from([(r.t_ms, r.log_start or 0) for r in starts])
    return (starts[first], starts[-1]) if first < len(starts) - 1 else (starts[first],)


def of_round(
    reading: ClusterReading,
    topic_windows: Mapping[str, str],
    topic_histories: Mapping[str, str],
    dated: Mapping[TP, Sequence[estimates.OffsetTime]],
    *,
    keep: int,
    window_rounds: int,
) -> tuple[dict[str, TopicState], dict[TP, PartitionFacts]]:
    """Each topic's state to store (its partitions' windows and histories) and each partition's facts, from
    what the last snapshot carried (its topic rows' windows and histories, and the records dated since) and
    this round's reading. `keep`: how many earlier rounds a window keeps."""
    floor = _lagging_floor(reading)
    now_ms = reading.t_ms
    states: dict[str, TopicState] = {}
    facts: dict[TP, PartitionFacts] = {}
    for name, topic in reading.topics.items():
        previous_ends = rows.decode_window(topic_windows.get(name, "")).get(name, {})
        previous_histories = timelines.decode(topic_histories.get(name, ""))
        state = TopicState({}, {})
        for p in range(topic.partitions):
            tp = TP(name, p)
            ends = reading.partitions.get(tp, UNKNOWN_ENDS)
            window = state.ends[p] = _carry(previous_ends.get(p, ()), keep, ends.log_end)
            latest = estimates.LogRound(now_ms, ends.log_start, ends.log_end, ends.newest_offset, ends.newest_ms)
            history = state.histories[p] = timelines.append_round(
                previous_histories.get(p, ()), latest, keep_offset=floor.get(tp), min_rounds=window_rounds
            )
            timeline = _NO_TIMELINE
            rate_history: tuple[estimates.LogRound, ...] = ()
            if tp in floor:
                timeline = estimates.timeline_from_history(history, dated.get(tp, ()))
                rate_history = _rate_history(history)
            steady = window[0] if len(window) == window_rounds and window.count(window[0]) == len(window) else None
            facts[tp] = PartitionFacts(
                ends,
                window,
                timeline,
                rate_history,
                topic.retention_ms,
                steady,
                None not in window and window == sorted(window),  # type: ignore[type-var]
                forecasts.log_start_advance(rate_history),
            )
        states[name] = state
    return states, facts


def unlisted(reading: ClusterReading, tp: TP) -> PartitionFacts:
    """Defaults for a partition the metadata lacks (a group's commit on a topic deleted meanwhile)."""
    topic = reading.topics.get(tp.topic)
    return PartitionFacts(
        reading.partitions.get(tp, UNKNOWN_ENDS), (), _NO_TIMELINE, (), topic.retention_ms if topic else None
    )
