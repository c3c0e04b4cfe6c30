"""Lag in seconds of a group's partitions, from what the collector saw of their logs.

Lag in seconds of a partition is the age of the oldest record the group has not read: now minus
the time the record at the committed offset was appended; 0 when caught up. The time comes from
a timeline of (offset, time) points built from the partition's log history:

- Each round tells when the log end had a value. A run of rounds with the same log end keeps
  its first and its last round: the first bounds when the newest record arrived, the last says
  that later records did not exist yet. Keeping the first is what keeps the figure right when
  producers go idle (a flat line whose time moves with the clock would drag the figure down,
  Kafka Lag Exporter's idle-producer failure); keeping the last keeps the bracket one period wide.
- ListOffsets max_timestamp gives a record's own timestamp (exact), and so does the record the
  collector may read at the committed offset. On a compacted or retention-trimmed log that read
  returns a later record, which then only bounds the figure from below.

Precision: a record appended between two rounds is placed by interpolating in offsets between
them, so an interpolated figure is within the time between them (`precision_s`: one collection
period, or a rolled-up bucket) of the truth and is exact when the producer's rate is steady. Rounds
further apart (the collector was stopped) bracket an offset too loosely to trust: such a figure is
flagged doubtful, and groups.snapshot.dating reads the record's own time for it. A lag below one
period is reported as the interpolated fraction, never rounded to a period, which avoids the
0-or-30-s swings of tools whose precision is their poll period; the UI should show such figures
as "< period". Figures that may be wrong are flagged `doubtful` and every figure names its method.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from groups.status import PartitionKey

CAUGHT_UP = "caught-up"
RECORD_TIMESTAMP = "record-timestamp"
INTERPOLATED = "interpolated"
EXTRAPOLATED = "extrapolated"
LOWER_BOUND = "lower-bound"
UNKNOWN = "unknown"

# Producer timestamps and the collector's clock disagree by a few ms routinely; beyond a second
# the bracket is no longer trustworthy.
CLOCK_TOLERANCE_MS = 1_000
# Rounds further apart than this bracket an offset too loosely (a stopped collector, not a rolled-up
# 5-minute bucket), when the gap is also a good part of the figure itself (WIDE_BRACKET_SHARE).
WIDE_BRACKET_S = 300.0
WIDE_BRACKET_SHARE = 0.1
# Figures a record's own timestamp would correct (groups.snapshot.dating reads it): see needs_dating.
UNDATED = (EXTRAPOLATED, LOWER_BOUND)


def needs_dating(method: str, doubtful: bool) -> bool:
    """A figure estimated from a rate or a bound, or interpolated across a wide gap: the record's own
    timestamp would make it exact."""
    return method in UNDATED or (method == INTERPOLATED and doubtful)


class OffsetTime(NamedTuple):
    """The record at `offset` was appended at or before `t_ms`.

    `exact`: `t_ms` is the record's own timestamp. Otherwise it is a round's clock when the log
    end was `offset + 1`, which also says that later offsets did not exist yet at `t_ms`.
    A tuple, so thousands sort and deduplicate at C speed.
    """

    offset: int
    t_ms: int
    exact: bool


class LogRound(NamedTuple):
    """What one collection round saw for one topic partition.

    A tuple: a round decodes and encodes every partition's carried history, up to 240 rounds each.
    """

    t_ms: int
    log_start: int | None
    log_end: int | None
    newest_offset: int | None = None
    newest_timestamp_ms: int | None = None


class Timeline:
    """The offset-time points of one partition, indexed for lookups in O(log n).

    Built once per partition and round; shared by every group reading the partition.
    """

    def __init__(self, points: Sequence[OffsetTime]):
        self.points = tuple(sorted({p for p in points if p.offset >= (0 if p.exact else -1)}))
        self._offsets = [p.offset for p in self.points]
        self._exact = {p.offset: p.t_ms for p in self.points if p.exact}
        self._latest_below = _running_best(self.points, later=True)
        self._earliest_from = _running_best(self.points[::-1], later=False)[::-1]
        rounds = [p for p in self.points if not p.exact]
        self.rate_per_ms = _first_stretch_rate(rounds)
        self.latest_round_ms = max((p.t_ms for p in rounds), default=None)

    def exact_time(self, offset: int) -> int | None:
        return self._exact.get(offset)

    def latest_below(self, offset: int) -> OffsetTime | None:
        """The newest point proving `offset` did not exist yet (or was appended later)."""
        return self._latest_below[bisect_left(self._offsets, offset)]

    def earliest_from(self, offset: int) -> OffsetTime | None:
        """The oldest point proving `offset` existed (it was appended at or before that time)."""
        return self._earliest_from[bisect_left(self._offsets, offset)]


def _running_best(points: Sequence[OffsetTime], *, later: bool) -> list[OffsetTime | None]:
    """best[i] = the latest (or earliest) point among points[:i].

    On equal times the point met last wins, which is the one nearer the looked-up offset.
    """
    best: list[OffsetTime | None] = [None]
    current = None
    for p in points:
        if current is None or (p.t_ms >= current.t_ms if later else p.t_ms <= current.t_ms):
            current = p
        best.append(current)
    return best


def _first_stretch_rate(rounds: Sequence[OffsetTime]) -> float | None:
    """The append rate of the history's first stretch: from the last round that saw its lowest log end
    to the first that saw a higher one (`rounds` sorted by offset, then time).

    What extrapolates to a committed offset older than the history. Measured next to that offset, not
    over the whole history: an average over hours would take in every pause of the producers (a
    console that was down for an hour dated such offsets an hour too early), and would change as
    rounds are added, so a figure for a group nobody consumes would fall while the record ages.
    """
    if not rounds:
        return None
    lowest = rounds[0].offset
    below = [p for p in rounds if p.offset == lowest]
    above = next((p for p in rounds if p.offset > lowest), None)
    first = below[-1]
    if above is None or above.t_ms <= first.t_ms:
        return None
    return (above.offset - first.offset) / (above.t_ms - first.t_ms)


def timeline_from_history(history: Sequence[LogRound], dated: Sequence[OffsetTime] = ()) -> Timeline:
    """The timeline of a partition from its log history, oldest round first, and `dated`: exact points of
    records read for offsets the history does not reach (groups.snapshot.dating).

    History before the log end went down (the topic was recreated or truncated: another log)
    or before the clock stepped back (times not comparable) is left out. Any (time, log end)
    sample is a valid point, so rolled-up history (a bucket's last log end at its end) serves
    for older stretches, with the bucket width as precision. Building costs a few µs a round:
    pass the rounds from the last one whose log end is at or below the smallest committed
    offset of the lagging groups, not the whole retained history.
    """
    rounds = [(r, r.log_end) for r in history if r.log_end is not None]
    rounds = rounds[continuous_from([(r.t_ms, end) for r, end in rounds]) :]
    points: list[OffsetTime] = []
    for i, (r, end) in enumerate(rounds):
        starts_run = i == 0 or rounds[i - 1][1] != end
        ends_run = i == len(rounds) - 1 or rounds[i + 1][1] != end
        if starts_run or ends_run:
            points.append(OffsetTime(end - 1, r.t_ms, exact=False))
        if r.newest_offset is not None and r.newest_timestamp_ms is not None and r.newest_timestamp_ms >= 0:
            points.append(OffsetTime(r.newest_offset, r.newest_timestamp_ms, exact=True))
    return Timeline([*points, *dated])


def continuous_from(series: Sequence[tuple[int, int]]) -> int:
    """Index from which a (time, counter) series neither goes back in time nor counts down.

    Before it lies another log (recreated or truncated topic), another position (a reset) or
    another clock; rates and timelines are measured from there on.
    """
    if len(series) < 2:
        return 0
    times, counters = zip(*series, strict=True)
    if list(times) == sorted(times) and list(counters) == sorted(counters):
        return 0  # the usual case, told by C-speed builtins
    start = 0
    for i in range(1, len(series)):
        if series[i][0] < series[i - 1][0] or series[i][1] < series[i - 1][1]:
            start = i
    return start


class LagSeconds(NamedTuple):  # a tuple: a round builds one or more per partition, 2x cheaper
    seconds: float | None
    method: str
    doubtful: bool
    note: str
    precision_s: float | None = None


_CAUGHT_UP = LagSeconds(0.0, CAUGHT_UP, False, "Caught up.", precision_s=0.0)  # shared: frozen


def lag_seconds(
    *, committed: int | None, log_start: int | None, log_end: int | None, timeline: Timeline, now_ms: int
) -> LagSeconds:
    """Age of the record at the committed offset: 0 when caught up, None when it cannot be told."""
    if committed is None or committed < 0:
        return LagSeconds(None, UNKNOWN, False, "No committed offset.")
    if log_end is None:
        return LagSeconds(None, UNKNOWN, False, "Log end unknown.")
    if committed == log_end:
        return _CAUGHT_UP
    if committed > log_end:
        return LagSeconds(None, UNKNOWN, False, "Committed offset is past the log end: no record to wait for.")
    if timeline.latest_round_ms is not None and timeline.latest_round_ms - now_ms > CLOCK_TOLERANCE_MS:
        behind_s = (timeline.latest_round_ms - now_ms) / 1000
        return LagSeconds(0.0, UNKNOWN, True, f"The clock went back {behind_s:.0f} s behind the history; shown as 0.")
    figure = _age_of_offset(committed, log_end, timeline, now_ms)
    if log_start is not None and committed < log_start:
        return _deleted(figure, log_start - committed)
    return figure


def _age_of_offset(offset: int, log_end: int, timeline: Timeline, now_ms: int) -> LagSeconds:
    exact = timeline.exact_time(offset)
    if exact is not None:
        return _figure(now_ms, exact, RECORD_TIMESTAMP, 0.0, "Timestamp of the record at the committed offset.")
    upper = _earliest_existence(offset, log_end, timeline, now_ms)
    lower = timeline.latest_below(offset)
    if lower is not None and lower.t_ms <= upper.t_ms:
        appended = lower.t_ms + (offset - lower.offset) * (upper.t_ms - lower.t_ms) / (upper.offset - lower.offset)
        bracket_s = (upper.t_ms - lower.t_ms) / 1000
        figure = _figure(now_ms, appended, INTERPOLATED, bracket_s, "Interpolated between two rounds of the log end.")
        if bracket_s > WIDE_BRACKET_S and bracket_s > WIDE_BRACKET_SHARE * (figure.seconds or 0.0):
            return _doubtful(
                figure._replace(
                    note=f"Interpolated between two rounds {bracket_s / 60:.0f} min apart (the collector was not "
                    "running between them): the record may be that much older or younger."
                )
            )
        return figure
    if lower is not None:
        skew = lower.t_ms - upper.t_ms
        figure = _figure(
            now_ms,
            upper.t_ms,
            INTERPOLATED,
            0.0,
            f"Clocks disagree by {skew} ms around this offset; took the later bound.",
        )
        return _doubtful(figure) if skew > CLOCK_TOLERANCE_MS else figure
    if upper.t_ms == now_ms and not upper.exact and timeline.rate_per_ms is None:
        return LagSeconds(None, UNKNOWN, False, "No history of this partition's log end yet.")
    if timeline.rate_per_ms is not None:
        appended = upper.t_ms - (upper.offset - offset) / timeline.rate_per_ms
        return _doubtful(
            _figure(
                now_ms,
                appended,
                EXTRAPOLATED,
                None,
                "The history does not reach back to the committed offset; "
                "extrapolated at the append rate of its first stretch.",
            )
        )
    gone = " The record at the committed offset was not seen (compacted or deleted?)." if upper.exact else ""
    return _doubtful(
        _figure(now_ms, upper.t_ms, LOWER_BOUND, None, f"At least: the age of the oldest later record known.{gone}")
    )


def _earliest_existence(offset: int, log_end: int, timeline: Timeline, now_ms: int) -> OffsetTime:
    # The log end read in this round proves every offset below it exists now.
    now_point = OffsetTime(log_end - 1, now_ms, exact=False)
    known = timeline.earliest_from(offset)
    return known if known is not None and known.t_ms <= now_ms else now_point


def _figure(now_ms: int, appended_ms: float, method: str, precision_s: float | None, note: str) -> LagSeconds:
    age_ms = now_ms - appended_ms
    if age_ms < -CLOCK_TOLERANCE_MS:
        return LagSeconds(
            0.0,
            method,
            True,
            f"{note} Its time is {-age_ms / 1000:.0f} s in the future (a producer's clock is ahead); shown as 0.",
            precision_s,
        )
    # To the millisecond, as record timestamps are: an interpolated or extrapolated time has no finer meaning.
    return LagSeconds(round(max(0.0, age_ms / 1000), 3), method, False, note, precision_s)


def _doubtful(figure: LagSeconds) -> LagSeconds:
    return LagSeconds(figure.seconds, figure.method, True, figure.note, figure.precision_s)


def _deleted(figure: LagSeconds, lost: int) -> LagSeconds:
    note = (
        f"{figure.note} The record at the committed offset was deleted ({lost} records lost): the "
        "consumer will resume where auto.offset.reset says, not at this age."
    )
    return LagSeconds(figure.seconds, figure.method, True, note, figure.precision_s)


@dataclass(frozen=True)
class GroupLagSeconds:
    seconds: float | None
    method: str
    doubtful: bool
    partition: PartitionKey | None
    note: str


def group_lag_seconds(partitions: Mapping[PartitionKey, LagSeconds]) -> GroupLagSeconds:
    """The group's lag in seconds: its worst partition's figure, with that figure's method.

    Doubtful when a lagging partition's figure is unknown (it might be the worst).
    """
    known = {key: lag for key, lag in partitions.items() if lag.seconds is not None}
    unknown = len(partitions) - len(known)
    if not known:
        return GroupLagSeconds(None, UNKNOWN, False, None, "No partition has a known lag in seconds.")
    key, worst = max(known.items(), key=lambda item: (item[1].seconds, item[0]))
    note = worst.note + (f" {unknown} partition(s) unknown." if unknown else "")
    return GroupLagSeconds(worst.seconds, worst.method, worst.doubtful or unknown > 0, key, note)
