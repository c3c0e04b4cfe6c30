"""Lag in seconds, retention margin and time to catch up, from what the collector saw.

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
them, so an interpolated figure is within one collection period (`precision_s`) of the truth and
is exact when the producer's rate is steady. A lag below one period is reported as the
interpolated fraction, never rounded to a period, which avoids the 0-or-30-s swings of tools
whose precision is their poll period; the UI should show such figures as "< period". Figures
that may be wrong are flagged `doubtful` and every figure names its method.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from groups.status import Observation, PartitionKey

CAUGHT_UP = "caught-up"
RECORD_TIMESTAMP = "record-timestamp"
INTERPOLATED = "interpolated"
EXTRAPOLATED = "extrapolated"
LOWER_BOUND = "lower-bound"
UNKNOWN = "unknown"

# Producer timestamps and the collector's clock disagree by a few ms routinely; beyond a second
# the bracket is no longer trustworthy.
CLOCK_TOLERANCE_MS = 1_000


@dataclass(frozen=True)
class OffsetTime:
    """The record at `offset` was appended at or before `t_ms`.

    `exact`: `t_ms` is the record's own timestamp. Otherwise it is a round's clock when the log
    end was `offset + 1`, which also says that later offsets did not exist yet at `t_ms`.
    """

    offset: int
    t_ms: int
    exact: bool


@dataclass(frozen=True)
class LogRound:
    """What one collection round saw for one topic partition."""

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
        self.points = tuple(sorted({p for p in points if p.offset >= (0 if p.exact else -1)},
                                   key=lambda p: (p.offset, p.t_ms)))
        self._offsets = [p.offset for p in self.points]
        self._exact = {p.offset: p.t_ms for p in self.points if p.exact}
        self._latest_below = _running_best(self.points, max)
        self._earliest_from = list(reversed(_running_best(tuple(reversed(self.points)), min)))
        self.rate_per_ms = _append_rate(self.points)
        self.latest_round_ms = max((p.t_ms for p in self.points if not p.exact), default=None)

    def exact_time(self, offset: int) -> int | None:
        return self._exact.get(offset)

    def latest_below(self, offset: int) -> OffsetTime | None:
        """The newest point proving `offset` did not exist yet (or was appended later)."""
        return self._latest_below[bisect_left(self._offsets, offset)]

    def earliest_from(self, offset: int) -> OffsetTime | None:
        """The oldest point proving `offset` existed (it was appended at or before that time)."""
        return self._earliest_from[bisect_left(self._offsets, offset)]


def _running_best(points: tuple[OffsetTime, ...], pick) -> list[OffsetTime | None]:
    """best[i] = the point among points[:i] with the max (or min) time."""
    best: list[OffsetTime | None] = [None]
    for p in points:
        current = best[-1]
        # On equal times the point nearer the looked-up offset wins: (t, offset) does that both ways.
        best.append(p if current is None else pick(current, p, key=lambda q: (q.t_ms, q.offset)))
    return best


def _append_rate(points: tuple[OffsetTime, ...]) -> float | None:
    rounds = sorted((p for p in points if not p.exact), key=lambda p: p.t_ms)
    if len(rounds) < 2 or rounds[-1].t_ms <= rounds[0].t_ms or rounds[-1].offset <= rounds[0].offset:
        return None
    return (rounds[-1].offset - rounds[0].offset) / (rounds[-1].t_ms - rounds[0].t_ms)


def timeline_from_history(history: Sequence[LogRound]) -> Timeline:
    """The timeline of a partition from its log history, oldest round first.

    History before the log end went down (the topic was recreated or truncated: another log)
    or before the clock stepped back (times not comparable) is left out.
    """
    rounds = [r for r in history if r.log_end is not None]
    rounds = rounds[_last_discontinuity([(r.t_ms, r.log_end) for r in rounds]):]
    points: list[OffsetTime] = []
    for i, r in enumerate(rounds):
        assert r.log_end is not None
        starts_run = i == 0 or rounds[i - 1].log_end != r.log_end
        ends_run = i == len(rounds) - 1 or rounds[i + 1].log_end != r.log_end
        if starts_run or ends_run:
            points.append(OffsetTime(r.log_end - 1, r.t_ms, exact=False))
        if r.newest_offset is not None and r.newest_timestamp_ms is not None and r.newest_timestamp_ms >= 0:
            points.append(OffsetTime(r.newest_offset, r.newest_timestamp_ms, exact=True))
    return Timeline(points)


def _last_discontinuity(series: Sequence[tuple[int, int]]) -> int:
    """Index from which a (time, counter) series neither goes back in time nor counts down."""
    start = 0
    for i in range(1, len(series)):
        if series[i][0] < series[i - 1][0] or series[i][1] < series[i - 1][1]:
            start = i
    return start


@dataclass(frozen=True)
class LagSeconds:
    seconds: float | None
    method: str
    doubtful: bool
    note: str
    precision_s: float | None = None


def lag_seconds(*, committed: int | None, log_start: int | None, log_end: int | None,
                timeline: Timeline, now_ms: int) -> LagSeconds:
    """Age of the record at the committed offset: 0 when caught up, None when it cannot be told."""
    if committed is None or committed < 0:
        return LagSeconds(None, UNKNOWN, False, "No committed offset.")
    if log_end is None:
        return LagSeconds(None, UNKNOWN, False, "Log end unknown.")
    if committed == log_end:
        return LagSeconds(0.0, CAUGHT_UP, False, "Caught up.", precision_s=0.0)
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
        return _figure(now_ms, appended, INTERPOLATED, (upper.t_ms - lower.t_ms) / 1000,
                       "Interpolated between two rounds of the log end.")
    if lower is not None:
        skew = lower.t_ms - upper.t_ms
        figure = _figure(now_ms, upper.t_ms, INTERPOLATED, 0.0,
                         f"Clocks disagree by {skew} ms around this offset; took the later bound.")
        return _doubtful(figure) if skew > CLOCK_TOLERANCE_MS else figure
    if upper.t_ms == now_ms and not upper.exact and timeline.rate_per_ms is None:
        return LagSeconds(None, UNKNOWN, False, "No history of this partition's log end yet.")
    if timeline.rate_per_ms is not None:
        appended = upper.t_ms - (upper.offset - offset) / timeline.rate_per_ms
        return _doubtful(_figure(now_ms, appended, EXTRAPOLATED, None,
                                 "The history does not reach back to the committed offset; "
                                 "extrapolated at the history's average append rate."))
    gone = " The record at the committed offset was not seen (compacted or deleted?)." if upper.exact else ""
    return _doubtful(_figure(now_ms, upper.t_ms, LOWER_BOUND, None,
                             f"At least: the age of the oldest later record known.{gone}"))


def _earliest_existence(offset: int, log_end: int, timeline: Timeline, now_ms: int) -> OffsetTime:
    # The log end read in this round proves every offset below it exists now.
    now_point = OffsetTime(log_end - 1, now_ms, exact=False)
    known = timeline.earliest_from(offset)
    return known if known is not None and known.t_ms <= now_ms else now_point


def _figure(now_ms: int, appended_ms: float, method: str, precision_s: float | None, note: str) -> LagSeconds:
    age_ms = now_ms - appended_ms
    if age_ms < -CLOCK_TOLERANCE_MS:
        return LagSeconds(0.0, method, True, f"{note} Its time is {-age_ms / 1000:.0f} s in the future "
                          "(a producer's clock is ahead); shown as 0.", precision_s)
    return LagSeconds(max(0.0, age_ms / 1000), method, False, note, precision_s)


def _doubtful(figure: LagSeconds) -> LagSeconds:
    return LagSeconds(figure.seconds, figure.method, True, figure.note, figure.precision_s)


def _deleted(figure: LagSeconds, lost: int) -> LagSeconds:
    note = (f"{figure.note} The record at the committed offset was deleted ({lost} records lost): the "
            "consumer will resume where auto.offset.reset says, not at this age.")
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


@dataclass(frozen=True)
class Rates:
    """Messages per second, over a recent window: None when the window cannot tell."""

    consume: float | None
    produce: float | None


def partition_rates(window: Sequence[Observation], *, recent_ms: int = 300_000) -> Rates:
    """How fast a group's committed offset and the log end advanced over the last `recent_ms`.

    A rate is measured since its counter last went down (a reset, a recreated topic) and is as
    coarse as the commits it sees: a consumer committing every 5 s gives a rate within one
    commit's worth of messages over the window.
    """
    committed = [(o.t_ms, o.committed) for o in window if o.committed is not None and o.committed >= 0]
    ends = [(o.t_ms, o.log_end) for o in window if o.log_end is not None]
    return Rates(_rate(committed, recent_ms), _rate(ends, recent_ms))


def _rate(series: Sequence[tuple[int, int]], recent_ms: int | None) -> float | None:
    series = series[_last_discontinuity(series):]
    if recent_ms is not None and series:
        series = [(t, v) for t, v in series if t >= series[-1][0] - recent_ms]
    if len(series) < 2 or series[-1][0] <= series[0][0]:
        return None
    return (series[-1][1] - series[0][1]) * 1000 / (series[-1][0] - series[0][0])


@dataclass(frozen=True)
class RetentionMargin:
    """How long until the log start passes the committed offset, at current rates.

    `state`: "lost" (it already has), "warning" (sooner than the threshold), "ok", "never" (not
    at current rates) or "unknown". `method`: "log-start" (already lost), "log-start-rate",
    "retention-time", "caught-up" or "unknown".
    """

    state: str
    seconds: float | None
    method: str
    lost_records: int
    doubtful: bool
    note: str

    @property
    def warn(self) -> bool:
        return self.state in ("lost", "warning")


def retention_margin(*, committed: int | None, log_start: int | None, log_end: int | None,
                     history: Sequence[LogRound], rates: Rates, lag: LagSeconds,
                     retention_ms: int | None, warn_below_s: float = 3600.0) -> RetentionMargin:
    """Time left before retention deletes records this group has not read.

    Two estimates, the sooner wins: the log start's advance rate over `history` against the
    group's consumption rate (sees retention.bytes and delete-records too, but moves in segment
    jumps, so it needs a history longer than a segment's life), and the topic's `retention_ms`
    against the lag in seconds (a record becomes deletable when its age passes retention.ms; the
    broker deletes whole segments on its retention check, so actual loss comes somewhat later).
    """
    if committed is None or log_end is None:
        return RetentionMargin("unknown", None, UNKNOWN, 0, False, "No committed offset or log end.")
    if log_start is not None and committed < log_start:
        lost = log_start - committed
        return RetentionMargin("lost", None, "log-start", lost, False,
                               f"Records already lost: {lost} records before the log start {log_start} were deleted unread.")
    if committed >= log_end:
        return RetentionMargin("never", None, CAUGHT_UP, 0, False, "Caught up: nothing unread to lose.")
    candidates = [c for c in (_by_log_start_rate(committed, log_start, history, rates),
                              _by_retention_time(retention_ms, lag, rates)) if c is not None]
    finite = [c for c in candidates if c.seconds is not None]
    if finite:
        soonest = min(finite, key=lambda c: c.seconds or 0.0)
        state = "warning" if (soonest.seconds or 0.0) < warn_below_s else "ok"
        return RetentionMargin(state, soonest.seconds, soonest.method, 0, soonest.doubtful, soonest.note)
    if candidates:
        return candidates[0]
    return RetentionMargin("unknown", None, UNKNOWN, 0, False,
                           "Neither a moving log start in the history nor retention.ms with a lag in seconds.")


def _by_log_start_rate(committed: int, log_start: int | None, history: Sequence[LogRound],
                       rates: Rates) -> RetentionMargin | None:
    starts = [(r.t_ms, r.log_start) for r in history if r.log_start is not None]
    advance = _rate(starts, None)
    if advance is None or log_start is None:
        return None
    span_min = (starts[-1][0] - starts[_last_discontinuity(starts)][0]) / 60_000
    closing = advance - max(rates.consume or 0.0, 0.0)
    if advance == 0:
        return RetentionMargin("never", None, "log-start-rate", 0, False,
                               f"The log start has not moved in {span_min:.0f} min.")
    if closing <= 0:
        return RetentionMargin("never", None, "log-start-rate", 0, False,
                               f"The group consumes faster ({rates.consume:.1f} msg/s) than the log start advances "
                               f"({advance:.1f} msg/s).")
    seconds = (committed - log_start) / closing
    return RetentionMargin("ok", seconds, "log-start-rate", 0, False,
                           f"The log start advances {advance:.1f} msg/s over {span_min:.0f} min and is "
                           f"{committed - log_start} records behind the committed offset.")


def _by_retention_time(retention_ms: int | None, lag: LagSeconds, rates: Rates) -> RetentionMargin | None:
    if retention_ms is None:
        return None
    if retention_ms < 0:
        return RetentionMargin("never", None, "retention-time", 0, False, "retention.ms is -1: time deletes nothing.")
    if lag.seconds is None:
        return None
    ageing = _unread_age_growth(rates)
    if ageing == 0:
        return RetentionMargin("never", None, "retention-time", 0, lag.doubtful,
                               "The group keeps pace with producers: its oldest unread record does not age.")
    seconds = max(0.0, (retention_ms / 1000 - lag.seconds) / ageing)
    due = " It is already deletable: it goes at the broker's next retention check." if seconds == 0 else ""
    return RetentionMargin("ok", seconds, "retention-time", 0, lag.doubtful,
                           f"The oldest unread record is {lag.seconds:.0f} s old against retention.ms "
                           f"{retention_ms} ({lag.method}).{due}")


def _unread_age_growth(rates: Rates) -> float:
    """Seconds the oldest unread record ages per second: 1 when stalled, 0 when keeping pace.

    Without a production rate (idle producer, no history) the group is assumed stalled, the
    cautious side.
    """
    if rates.produce is None or rates.produce <= 0 or rates.consume is None:
        return 1.0
    return max(0.0, 1.0 - max(rates.consume, 0.0) / rates.produce)


@dataclass(frozen=True)
class CatchUp:
    """When the group will have read everything, at current rates.

    `state`: "caught-up", "catching-up" (`seconds` until the slowest partition is caught up),
    "falling-behind" (lag grows by `falling_behind_rate` msg/s), "holding" (lag neither grows
    nor shrinks), or "unknown" (too little history).
    """

    state: str
    seconds: float | None
    falling_behind_rate: float | None
    consume_rate: float | None
    produce_rate: float | None
    note: str


def catch_up(partitions: Mapping[PartitionKey, Sequence[Observation]], *, recent_ms: int = 300_000) -> CatchUp:
    """Time for the group to catch up at the consumption and production rates of the last `recent_ms`.

    Judged per partition (a group is caught up when its slowest partition is), from each
    partition's recent rounds, oldest first.
    """
    lagging: dict[PartitionKey, tuple[int, Rates]] = {}
    all_rates = []
    for key, window in partitions.items():
        rates = partition_rates(window, recent_ms=recent_ms)
        all_rates.append(rates)
        lag = _current_lag(window)
        if lag is not None and lag > 0:
            lagging[key] = (lag, rates)
    consume = _sum_known([r.consume for r in all_rates])
    produce = _sum_known([r.produce for r in all_rates])

    def result(state: str, seconds: float | None, behind: float | None, note: str) -> CatchUp:
        return CatchUp(state, seconds, behind, consume, produce, note)

    if not lagging:
        return result("caught-up", 0.0, None, "Caught up.")
    deficits = {key: r.produce - r.consume for key, (_, r) in lagging.items()
                if r.produce is not None and r.consume is not None}
    behind = sum(d for d in deficits.values() if d > 0)
    if behind > 0:
        return result("falling-behind", None, behind, f"Falling behind at {behind:.1f} msg/s.")
    if len(deficits) < len(lagging):
        return result("unknown", None, None, "Not enough recent rounds to measure rates.")
    if any(d == 0 for d in deficits.values()):
        total = sum(lag for lag, _ in lagging.values())
        return result("holding", None, None, f"Lag holds at {total}: consumers do not gain on producers.")
    seconds = max(lagging[key][0] / -d for key, d in deficits.items())
    return result("catching-up", seconds, None, f"Caught up in about {seconds:.0f} s at current rates.")


def _current_lag(window: Sequence[Observation]) -> int | None:
    latest = window[-1] if window else None
    if latest is None or latest.committed is None or latest.committed < 0 or latest.log_end is None:
        return None
    return latest.log_end - latest.committed


def _sum_known(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None
