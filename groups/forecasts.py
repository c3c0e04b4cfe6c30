"""Forecasts at current rates: when retention will delete unread records, when a group catches up.

Rates are measured by the collector's rounds: the committed offset and the log end of each
partition over the whole status window (`partition_rates`), the log start over the partition's history.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

from groups.chart_scales import duration_text
from groups.estimates import CAUGHT_UP, UNKNOWN, LagSeconds, LogRound, continuous_from
from groups.status import Observation, PartitionKey

GROWING, STEADY, SHRINKING = 1, 0, -1
# How the note of a "lost" margin begins: a group row keeps a lost margin as 0 s, as it keeps one whose oldest
# unread record is deletable now, and pages tell the two apart by it.
LOST_NOTE = "Records already lost"


def margin_lost(seconds: float | None, said: str) -> bool:
    """Whether a stored margin says records are gone: 0 s with the state "lost" or a note beginning LOST_NOTE,
    not 0 s whose oldest unread record is only deletable now."""
    return seconds is not None and seconds <= 0 and (said == "lost" or said.startswith(LOST_NOTE))


# What rates are measured over: None, the whole status window (COLLECT_WINDOW_ROUNDS rounds). Rates of the
# last 5 minutes were those of one or two rounds of a bursty consumer on slow rounds, and a burst made or
# unmade a retention margin of weeks from one round to the next (the review's "350 days" for a caught-up group).
RECENT_MS: int | None = None
# How the note of a margin beyond the topic's retention.ms begins: the row keeps retention.ms as its seconds,
# and pages say "more than the topic's retention" rather than a projection of weeks at the rates of the moment.
BEYOND_NOTE = "More than the topic's retention"
BEYOND = "beyond"  # the state of such a margin


def margin_beyond(said: str) -> bool:
    """Whether a stored margin's state or note says it lies beyond the topic's retention (its seconds hold it)."""
    return said == BEYOND or said.startswith(BEYOND_NOTE)


class Rates(NamedTuple):  # a tuple: a round builds one or more per partition, 2x cheaper
    """Messages per second, over the status window: None when the window cannot tell.

    `trend`: where the lag went over the same window (lag_trend), None when not measured. Their
    difference alone would call a lag that went from 5 to 6 in two minutes "falling behind".
    """

    consume: float | None
    produce: float | None
    trend: int | None = None


def lag_trend(lags: Sequence[int]) -> int:
    """GROWING when every lag of the window's later half is above every lag of its earlier half (and the
    lag grew by more than one message), SHRINKING the other way round, else STEADY.

    A consumer that keeps pace commits in batches, so its lag swings by a batch or more from round to
    round, and the first and the last of a window can differ by a whole swing; a rate measured between
    them called such groups "falling behind". A lag that really grows (a stopped consumer, or one that
    loses ground batch after batch) leaves the lags of the earlier half behind.
    """
    half = len(lags) // 2
    if half == 0:
        return STEADY
    earlier, later = lags[:half], lags[len(lags) - half :]
    if min(later) > max(earlier) and lags[-1] - lags[0] > 1:
        return GROWING
    if max(later) < min(earlier) and lags[0] - lags[-1] > 1:
        return SHRINKING
    return STEADY


def without_members(rates: Rates) -> Rates:
    """The rates of a group without members: nothing consumes. Its committed offset moves only when
    someone sets it (a reset, an undo), so neither that jump, read as consumption, nor the lag's trend
    across it says anything about consumers."""
    return Rates(0.0, rates.produce, None)


def memberless_rates(rates: Rates, committed: Sequence[int | None], *, console_moved: bool) -> Rates:
    """The rates of one partition of a group without members, from its window's committed offsets.

    A client that commits without joining the group (a consumer using assign(), Flink, Spark) has no
    members to list, yet its offset advances round after round: its rates stand while it keeps its
    own cadence (no longer silent than its advances were apart, as Burrow's STOP rule measures it).
    One silent for longer was a consumer that went away (killed without leaving the group), an
    offset that advanced in fewer than two rounds was set rather than consumed (a reset, of this
    console or of another tool), and one this console moved in the window is its own doing: in all
    of these nothing consumes.
    """
    if console_moved or rates.consume is None or rates.consume <= 0:
        return without_members(rates)
    known = [(i, c) for i, c in enumerate(committed) if c is not None and c >= 0]
    advanced_at = [i for (_, before), (i, after) in pairwise(known) if after > before]
    if len(advanced_at) < 2:
        return without_members(rates)
    cadence = (advanced_at[-1] - advanced_at[0]) / (len(advanced_at) - 1)
    silent = len(committed) - 1 - advanced_at[-1]
    return rates if silent <= cadence else without_members(rates)


def partition_rates(window: Sequence[Observation], *, recent_ms: int | None = RECENT_MS) -> Rates:
    """How fast a group's committed offset and the log end advanced over the last `recent_ms` (None: the
    whole window), and where its lag went meanwhile.

    A rate is measured since its counter last went down (a reset, a recreated topic) and is as
    coarse as the commits it sees: a consumer committing every 5 s gives a rate within one
    commit's worth of messages over the window.
    """
    committed = [(o.t_ms, o.committed) for o in window if o.committed is not None and o.committed >= 0]
    ends = [(o.t_ms, o.log_end) for o in window if o.log_end is not None]
    since = window[-1].t_ms - recent_ms if window and recent_ms is not None else None
    lags = [
        o.log_end - o.committed
        for o in window
        if (since is None or o.t_ms >= since) and o.committed is not None and o.committed >= 0 and o.log_end is not None
    ]
    return Rates(_rate(committed, recent_ms), _rate(ends, recent_ms), lag_trend(lags))


def series_rate(times: Sequence[int], values: Sequence[int], *, recent_ms: int | None = RECENT_MS) -> float | None:
    """The rate (per second) of one counter of `partition_rates`, from its times and values, neither None."""
    if list(times) != sorted(times) or list(values) != sorted(values):
        return _rate(list(zip(times, values, strict=True)), recent_ms)
    # What _rate does with a series that neither goes back in time nor counts down, without pairing it.
    first = 0
    if recent_ms is not None and times and times[0] < times[-1] - recent_ms:
        first = bisect_left(times, times[-1] - recent_ms)
    if len(times) - first < 2 or times[-1] <= times[first]:
        return None
    return (values[-1] - values[first]) * 1000 / (times[-1] - times[first])


def _rate(series: Sequence[tuple[int, int]], recent_ms: int | None) -> float | None:
    series = series[continuous_from(series) :]
    # From there on times never go back: when the first is recent, every one is.
    if recent_ms is not None and series and series[0][0] < series[-1][0] - recent_ms:
        series = [(t, v) for t, v in series if t >= series[-1][0] - recent_ms]
    if len(series) < 2 or series[-1][0] <= series[0][0]:
        return None
    return (series[-1][1] - series[0][1]) * 1000 / (series[-1][0] - series[0][0])


class RetentionMargin(NamedTuple):  # a tuple: a round builds one or more per partition, 2x cheaper
    """How long until the log start passes the committed offset, at current rates.

    `state`: "lost" (it already has), "warning" (sooner than the threshold), "ok", "beyond" (later than
    the topic's retention.ms, which `seconds` then holds), "never" (not at current rates, or keeping pace)
    or "unknown". `method`: "log-start" (already lost), "log-start-rate", "retention-time", "caught-up",
    "keeping-pace" or "unknown".
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


_NOTHING_UNREAD = RetentionMargin("never", None, CAUGHT_UP, 0, False, "Caught up: nothing unread to lose.")  # frozen


def retention_margin(
    *,
    committed: int | None,
    log_start: int | None,
    log_end: int | None,
    history: Sequence[LogRound],
    rates: Rates,
    lag: LagSeconds,
    retention_ms: int | None,
    warn_below_s: float = 3600.0,
    produced_per_round: float | None = None,
) -> RetentionMargin:
    """Time left before retention deletes records this group has not read.

    Two estimates, the sooner wins: the log start's advance rate over `history` against the
    group's consumption rate (sees retention.bytes and delete-records too, but moves in segment
    jumps, so it needs a history longer than a segment's life), and the topic's `retention_ms`
    against the lag in seconds (a record becomes deletable when its age passes retention.ms; the
    broker deletes whole segments on its retention check, so actual loss comes somewhat later).
    """
    return retention_margin_by(
        committed=committed,
        log_start=log_start,
        log_end=log_end,
        advance=log_start_advance(history),
        rates=rates,
        lag=lag,
        retention_ms=retention_ms,
        warn_below_s=warn_below_s,
        produced_per_round=produced_per_round,
    )


class LogStartAdvance(NamedTuple):
    """How fast a partition's log start advanced over its history (msg/s), and over how many minutes."""

    rate: float
    span_min: float


def log_start_advance(history: Sequence[LogRound]) -> LogStartAdvance | None:
    """The log start's advance over `history`, None when it cannot tell; shared by every group of a partition."""
    starts = [(r.t_ms, r.log_start) for r in history if r.log_start is not None]
    advance = _rate(starts, None)
    if advance is None:
        return None
    return LogStartAdvance(advance, (starts[-1][0] - starts[continuous_from(starts)][0]) / 60_000)


def retention_margin_by(
    *,
    committed: int | None,
    log_start: int | None,
    log_end: int | None,
    advance: LogStartAdvance | None,
    rates: Rates,
    lag: LagSeconds,
    retention_ms: int | None,
    warn_below_s: float = 3600.0,
    produced_per_round: float | None = None,
) -> RetentionMargin:
    """retention_margin with the log start's advance measured already (`log_start_advance` of the history).

    `produced_per_round`: what producers appended per round over the status window; a lag within it keeps
    pace (status's "Keeping pace"): retention.ms gives it no margin, its rates differing only by a batch.
    A projection later than the topic's retention.ms is "beyond", with retention.ms as its seconds.
    """
    if committed is None or log_end is None:
        return RetentionMargin("unknown", None, UNKNOWN, 0, False, "No committed offset or log end.")
    if log_start is not None and committed < log_start:
        lost = log_start - committed
        return RetentionMargin(
            "lost",
            None,
            "log-start",
            lost,
            False,
            f"{LOST_NOTE}: {lost} records before the log start {log_start} were deleted unread.",
        )
    if committed >= log_end:
        return _NOTHING_UNREAD
    keeping_pace = None
    if produced_per_round is not None and log_end - committed <= produced_per_round:
        keeping_pace = (
            f"Keeping pace: lag {log_end - committed:,}, within what producers write in a round "
            f"({produced_per_round:,.0f}): its oldest unread record does not age."
        )
    candidates = [
        c
        for c in (
            _by_log_start_rate(committed, log_start, advance, rates),
            _by_retention_time(retention_ms, lag, rates, keeping_pace),
        )
        if c is not None
    ]
    finite = [c for c in candidates if c.seconds is not None]
    if finite:
        soonest = min(finite, key=lambda c: c.seconds or 0.0)
        limit = retention_ms / 1000 if retention_ms is not None and retention_ms > 0 else None
        if limit is not None and (soonest.seconds or 0.0) > limit:
            return RetentionMargin(
                BEYOND,
                limit,
                soonest.method,
                0,
                soonest.doubtful,
                f"{BEYOND_NOTE} ({duration_text(limit)}) at the rates of the status window. {soonest.note}",
            )
        state = "warning" if (soonest.seconds or 0.0) < warn_below_s else "ok"
        return RetentionMargin(state, soonest.seconds, soonest.method, 0, soonest.doubtful, soonest.note)
    if candidates:
        return candidates[0]
    return RetentionMargin(
        "unknown",
        None,
        UNKNOWN,
        0,
        False,
        "Neither a moving log start in the history nor retention.ms with a lag in seconds.",
    )


def _by_log_start_rate(
    committed: int, log_start: int | None, measured: LogStartAdvance | None, rates: Rates
) -> RetentionMargin | None:
    if measured is None or log_start is None:
        return None
    advance, span_min = measured
    closing = advance - max(rates.consume or 0.0, 0.0)
    if advance == 0:
        return RetentionMargin(
            "never", None, "log-start-rate", 0, False, f"The log start has not moved in {span_min:.0f} min."
        )
    if closing <= 0:
        return RetentionMargin(
            "never",
            None,
            "log-start-rate",
            0,
            False,
            f"The group consumes faster ({per_s(rates.consume)}) than the log start advances ({per_s(advance)}).",
        )
    seconds = (committed - log_start) / closing
    return RetentionMargin(
        "ok",
        seconds,
        "log-start-rate",
        0,
        False,
        f"The log start advances {per_s(advance)} over {span_min:.0f} min and is "
        f"{committed - log_start} records behind the committed offset.",
    )


def _by_retention_time(
    retention_ms: int | None, lag: LagSeconds, rates: Rates, keeping_pace: str | None = None
) -> RetentionMargin | None:
    if retention_ms is None:
        return None
    if retention_ms < 0:
        return RetentionMargin("never", None, "retention-time", 0, False, "retention.ms is -1: time deletes nothing.")
    if keeping_pace is not None:
        return RetentionMargin("never", None, "retention-time", 0, lag.doubtful, keeping_pace)
    if lag.seconds is None:
        return None
    ageing = _unread_age_growth(rates)
    if ageing == 0:
        return RetentionMargin(
            "never",
            None,
            "retention-time",
            0,
            lag.doubtful,
            "The group keeps pace with producers: its oldest unread record does not age.",
        )
    seconds = max(0.0, (retention_ms / 1000 - lag.seconds) / ageing)
    due = " It is already deletable: it goes at the broker's next retention check." if seconds == 0 else ""
    if seconds and ageing < 1:  # why a margin can outlast retention.ms itself
        due = (
            f" The group reads {per_s(rates.consume)} of the {per_s(rates.produce)} produced, so that record "
            f"ages {ageing:.2g} s a second, not 1."
        )
    return RetentionMargin(
        "ok",
        seconds,
        "retention-time",
        0,
        lag.doubtful,
        f"The oldest unread record is {duration_text(lag.seconds)} old against the topic's retention of "
        f"{duration_text(retention_ms / 1000)} (retention.ms {retention_ms}; age {lag.method}).{due}",
    )


def _unread_age_growth(rates: Rates) -> float:
    """Seconds the oldest unread record ages per second: 1 when stalled, 0 when keeping pace.

    Without a production rate (idle producer, no history) the group is assumed stalled, the
    cautious side.
    """
    if rates.produce is None or rates.produce <= 0 or rates.consume is None:
        return 1.0
    if rates.trend == STEADY:
        return 0.0  # consumed as fast as produced, give or take a batch
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


def catch_up(
    partitions: Mapping[PartitionKey, Sequence[Observation]],
    *,
    recent_ms: int | None = RECENT_MS,
    rates_of: Mapping[PartitionKey, Rates] | None = None,
    consumers: bool = True,
) -> CatchUp:
    """Time for the group to catch up at the consumption and production rates of the last `recent_ms`
    (None: the whole window).

    Judged per partition (a group is caught up when its slowest partition is), from each
    partition's recent rounds, oldest first. `rates_of` may hand in `partition_rates` already
    measured over the same windows (the collector measures them for the retention margin too).
    `consumers`: False for a group without members whose offsets nothing advances (memberless_rates),
    whose lag grows for want of any consumer.
    """
    lagging: dict[PartitionKey, tuple[int, Rates]] = {}
    all_rates = []
    for key, window in partitions.items():
        known = rates_of.get(key) if rates_of is not None else None
        rates = known if known is not None else partition_rates(window, recent_ms=recent_ms)
        if not consumers:
            rates = without_members(rates)
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
    # A lag that only moved by a batch either way (STEADY) holds, whatever its ends' rates differ by.
    deficits = {
        key: 0.0 if r.trend == STEADY else r.produce - r.consume
        for key, (_, r) in lagging.items()
        if r.produce is not None and r.consume is not None
    }
    behind = sum(d for d in deficits.values() if d > 0)
    if behind > 0:
        if not consumers:
            return result("falling-behind", None, behind, f"No members consume: the lag grows at {per_s(behind)}.")
        return result("falling-behind", None, behind, f"Falling behind at {per_s(behind)}.")
    if len(deficits) < len(lagging):
        return result("unknown", None, None, "Not enough recent rounds to measure rates.")
    if any(d == 0 for d in deficits.values()):
        total = sum(lag for lag, _ in lagging.values())
        if any(r.produce for _, r in lagging.values()):
            return result("holding", None, None, f"Consumers keep pace with producers; the lag is {total} now.")
        return result("holding", None, None, f"Lag holds at {total}: nothing is produced or consumed.")
    seconds = max(lagging[key][0] / -d for key, d in deficits.items())
    return result("catching-up", seconds, None, f"Caught up in about {seconds:.0f} s at current rates.")


def per_s(rate: float | None) -> str:
    """A rate in messages per second, with a figure that is never 0.0 for a rate that is not 0."""
    if rate is None:
        return "an unknown rate"
    return f"{rate:.1f} msg/s" if rate == 0 or abs(rate) >= 1 else f"{rate:.2g} msg/s"


def _current_lag(window: Sequence[Observation]) -> int | None:
    latest = window[-1] if window else None
    if latest is None or latest.committed is None or latest.committed < 0 or latest.log_end is None:
        return None
    return latest.log_end - latest.committed


def _sum_known(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None
