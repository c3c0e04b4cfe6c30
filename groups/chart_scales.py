"""Axis ticks and value labels for the lag charts: round numbers, round durations, UTC times.

Pure and deterministic (no clock, no locale): the same range gives the same ticks and the same
text on every machine, which is what lets `groups.charts` promise identical SVG for identical data.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from datetime import UTC, datetime

MESSAGES = "messages"
SECONDS = "seconds"
UNITS = (MESSAGES, SECONDS)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

# Steps a person reads at a glance; the first that fits the width wins. Weeks start on Monday.
TIME_STEPS_MS = (
    MINUTE_MS,
    2 * MINUTE_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    15 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    4 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    2 * DAY_MS,
    WEEK_MS,
    2 * WEEK_MS,
    4 * WEEK_MS,
)
# 1970-01-01 was a Thursday; week-long ticks count from the Monday after it.
_FIRST_MONDAY_MS = 4 * DAY_MS

# Durations that make round axis labels: 15s, 5m, 2h, 1d... then whole weeks.
_SECOND_STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def time_step_ms(start_ms: int, end_ms: int, max_ticks: int) -> int:
    """The smallest round step that puts at most `max_ticks` intervals between start and end."""
    span = max(1, end_ms - start_ms)
    for step in TIME_STEPS_MS:
        if span / step <= max_ticks:
            return step
    return TIME_STEPS_MS[-1] * math.ceil(span / (TIME_STEPS_MS[-1] * max_ticks))


def time_ticks(start_ms: int, end_ms: int, max_ticks: int) -> list[tuple[int, str]]:
    """(t_ms, label) of the round UTC times between start and end, inclusive.

    Below a day a tick reads "14:30", except at midnight, where it names the day ("Mar 5") so a
    reader sees where days change; a step of a day or more always names the day.
    """
    step = time_step_ms(start_ms, end_ms, max_ticks)
    origin = _FIRST_MONDAY_MS if step % WEEK_MS == 0 else 0
    first = origin + math.ceil((start_ms - origin) / step) * step
    return [(t, _time_label(t, step)) for t in range(first, end_ms + 1, step)]


def _time_label(t_ms: int, step_ms: int) -> str:
    moment = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    if step_ms >= DAY_MS or (moment.hour == 0 and moment.minute == 0):
        return f"{_MONTHS[moment.month - 1]} {moment.day}"
    return f"{moment.hour:02d}:{moment.minute:02d}"


def utc_text(t_ms: int) -> str:
    """A moment as an operator reads it in a tooltip or a table: '2025-03-05 14:30:15 UTC'."""
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _value_steps(unit: str) -> Iterator[int]:
    if unit == SECONDS:
        yield from _SECOND_STEPS
        base, factors = _SECOND_STEPS[-1], (2, 5, 10)  # then 2, 5, 10, 20... weeks
    else:
        base, factors = 1, (1, 2, 5)
    magnitude = 1
    while True:
        for factor in factors:
            yield base * factor * magnitude
        magnitude *= 10


def value_ticks(low: float, high: float, *, unit: str, max_ticks: int) -> list[int]:
    """Round tick values covering [low, high] with at most `max_ticks` intervals.

    Ticks start at or below `low` and end at or above `high`, so the axis ends on a labelled
    value. Messages step by 1, 2, 5 x 10^k; seconds by round durations (15 s, 5 min, 6 h, 1 d).
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if high <= low:
        high = low + (1 if unit == MESSAGES else 60)
    for step in _value_steps(unit):
        first, last = math.floor(low / step), math.ceil(high / step)
        if last - first <= max_ticks:
            return [i * step for i in range(first, last + 1)]
    raise AssertionError("the step sequences are unbounded")


def axis_label(value: float, unit: str) -> str:
    """A short tick label: '950', '1.5k', '12M' for messages; '30s', '5m', '1h 30m', '2d' for seconds."""
    if unit == SECONDS:
        return duration_text(value, parts=2)
    sign, value = ("-" if value < 0 else ""), abs(value)
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            scaled = value / size
            text = f"{scaled:.1f}".removesuffix(".0") if scaled < 10 else f"{scaled:.0f}"
            return f"{sign}{text}{suffix}"
    return f"{sign}{value:.0f}" if value == int(value) else f"{sign}{value:.1f}"


def duration_text(seconds: float, parts: int = 2) -> str:
    """'0s', '45s', '3m 12s', '2h 05m' style durations, at most `parts` units, largest first."""
    return _duration_of(round(seconds), parts)


# A collection round words some 250,000 durations (status reasons, retention notes), nearly all whole seconds
# seen before: kept, the words cost a lookup.
@functools.lru_cache(maxsize=65_536)
def _duration_of(whole_seconds: int, parts: int) -> str:
    sign = "-" if whole_seconds < 0 else ""
    remaining = abs(whole_seconds)
    if remaining == 0:
        return "0s"
    pieces: list[str] = []
    for size, suffix in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        count, remaining = divmod(remaining, size)
        if count or pieces:
            pieces.append(f"{count}{suffix}")
        if len(pieces) == parts:
            break
    while len(pieces) > 1 and pieces[-1][0] == "0":
        pieces.pop()
    return sign + " ".join(pieces)


def exact_text(value: float | None, unit: str) -> str:
    """A value in full, for tables and tooltips: '1,234,567' messages or '3m 12s'."""
    if value is None:
        return "—"
    if unit == SECONDS:
        return duration_text(value, parts=2)
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
