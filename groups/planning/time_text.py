"""Times and durations as the console writes them in plans, previews, warnings and forms: one formatter,
so pages, forms, the command line and warnings all write them alike. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1)  # naive UTC: isoformat then writes no offset, and "Z" says UTC
_DURATION_UNITS = (("day", DAY_MS), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000))


def format_time_ms(epoch_ms: int | None, *, sep: str = "T", missing: str = "-") -> str:
    """Epoch milliseconds as UTC text to the millisecond: 2023-11-14T22:13:20.000Z (`missing` for None).

    The one formatter of the console's times in texts (pages, forms, commands, warnings). `sep` goes
    between date and time (a page may want a space). A value no date can hold (negative, or past
    year 9999) is not an error here: it is shown as "epoch ms N".
    """
    if epoch_ms is None:
        return missing
    try:
        if epoch_ms < 0:
            raise OverflowError
        moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    except (OverflowError, ValueError, TypeError):
        return f"epoch ms {epoch_ms}"
    return moment.isoformat(sep=sep, timespec="milliseconds") + "Z"


def format_duration_ms(milliseconds: int | None) -> str:
    """A duration as a person reads it: the largest unit that holds it whole ("7 days", "36 hours"),
    else the largest unit it reaches, to a tenth ("1.4 days"); None or negative (Kafka's -1) is "unlimited"."""
    if milliseconds is None or milliseconds < 0:
        return "unlimited"
    for unit, size in _DURATION_UNITS:
        if milliseconds >= size and milliseconds % size == 0:
            count = milliseconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    for unit, size in _DURATION_UNITS:
        if milliseconds >= size:
            tenths = round(milliseconds / size, 1)
            shown = int(tenths) if tenths == int(tenths) else tenths
            return f"{shown} {unit}{'s' if shown != 1 else ''}"
    return f"{milliseconds} ms"
