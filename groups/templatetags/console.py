"""Filters every page shares, so a figure reads the same wherever it is shown."""

from django import template

register = template.Library()


@register.filter
def count(value: int | None, sign: str = "") -> str:
    """A count (lag, records, events, members) with thousands separated by commas: '1,425'; '—' for None.

    `count:"+"` signs a change: '+1,075', '-30', '0'. Offsets are not counts: they are positions that
    operators copy into commands and tools, so pages print them as plain digits.
    """
    if value is None:
        return "—"
    if sign == "+" and value:
        return f"{int(value):+,}"
    return f"{int(value):,}"


@register.filter
def age(milliseconds: int | None) -> str:
    """A lag in time as an operator reads it: '0s', '45s', '3m 12s', '2h 05m', '3d 4h'."""
    if milliseconds is None:
        return "—"
    seconds = int(milliseconds // 1000)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
