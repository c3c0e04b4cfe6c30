"""What an operator writes for a reset, read as kafka-consumer-groups reads it, and the plan written back.

`--to-datetime` and `--by-duration` values (also a replay's time window) and reset files as
`--export` writes them; `export_csv` writes a plan that way. Pure, like the planner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

from groups.planning.resets import EPOCH, MILLISECOND, WHOLE_NUMBER, PartitionId, PlanningError, ResetPlan


def whole_number(value: str, what: str) -> int:
    """A whole number written as kafka-consumer-groups reads one: ASCII digits with an optional sign. Python's
    int() also takes '1_000' and other scripts' digits ('٣'), which the tool refuses."""
    text = value.strip()
    if not WHOLE_NUMBER.fullmatch(text):
        raise PlanningError(f"{what} must be a whole number (e.g. 42 or -100), not '{value}'.")
    return int(text)


_DATETIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,6}))?"
    r"(?P<zone>Z|(?P<sign>[+-])(?P<zone_hours>[0-9]{2})(?::?(?P<zone_minutes>[0-9]{2}))?)?",
    re.ASCII,
)
_DATETIME_FORM = (
    "expected YYYY-MM-DDTHH:mm:SS.sss with an optional zone Z, +02, +0200 or +02:00 "
    "(UTC when omitted), such as 2024-01-01T09:30:00.000 or 2024-01-01T09:30:00+02:00"
)


_LATEST_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - EPOCH) // MILLISECOND


def parse_datetime(text: str) -> tuple[int, bool]:
    """Parse a ``--to-datetime`` value into (epoch milliseconds, whether UTC was assumed).

    Accepts the tool's format and, more leniently, no fraction or 1 to 6 fractional digits.
    A time between two milliseconds rounds up: records are stamped in whole milliseconds and
    the lookup wants those at or after the time given.
    """
    value = text.strip()
    if "T" not in value:
        raise PlanningError(
            f"Invalid date and time '{value}': it must contain a 'T' between date and time; {_DATETIME_FORM}."
        )
    match = _DATETIME.fullmatch(value)
    if match is None:
        raise PlanningError(f"Invalid date and time '{value}': {_DATETIME_FORM}.")
    zone = UTC
    if match["sign"]:
        hours, minutes = int(match["zone_hours"]), int(match["zone_minutes"] or 0)
        if hours > 23 or minutes > 59:
            raise PlanningError(f"Invalid date and time '{value}': the zone offset must be at most 23:59.")
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-offset if match["sign"] == "-" else offset)
    try:
        moment = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            tzinfo=zone,
        )
    except ValueError as error:
        raise PlanningError(f"Invalid date and time '{value}': {error}.") from None
    microseconds = int((match["fraction"] or "").ljust(6, "0"))
    epoch_ms = (moment - EPOCH) // MILLISECOND + -(-microseconds // 1000)
    if epoch_ms < 0:
        raise PlanningError(f"Invalid date and time '{value}': it must not be before 1970-01-01T00:00:00Z.")
    # Later instants (a late local time with a negative zone) cannot be shown as a UTC time again.
    if epoch_ms > _LATEST_MS:
        raise PlanningError(f"Invalid date and time '{value}': it must not be after 9999-12-31T23:59:59.999Z.")
    return epoch_ms, match["zone"] is None


_ISO_DURATION = re.compile(
    r"P(?:(?P<days>[0-9]+)D)?"
    r"(?:T(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?"
    r"(?:(?P<seconds>[0-9]+)(?:[.,](?P<fraction>[0-9]{1,9}))?S)?)?",
    re.ASCII | re.IGNORECASE,
)
_SHORT_DURATION = re.compile(
    r"(?:(?P<days>[0-9]+)d)?(?:(?P<hours>[0-9]+)h)?(?:(?P<minutes>[0-9]+)m)?(?:(?P<seconds>[0-9]+)s)?",
    re.ASCII,
)
_DURATION_FORM = (
    "expected an ISO 8601 duration PnDTnHnMnS, such as PT15M, PT1H30M, P1D or PT0.5S, "
    "or a short form such as 15m, 2h, 1d, 30s or 1h30m"
)


def parse_duration(text: str) -> timedelta:
    """Parse a ``--by-duration`` value: ISO 8601 ``PnDTnHnMnS`` (as the tool) or ``1h30m``."""
    value = text.strip()
    if value.startswith("-"):
        raise PlanningError(f"Invalid duration '{value}': it must not be negative; {_DURATION_FORM}.")
    if re.match(r"P[^T]*[YM]", value, re.IGNORECASE):
        raise PlanningError(
            f"Invalid duration '{value}': years and months are not accepted because their length "
            "varies; use days, such as P30D."
        )
    match = _ISO_DURATION.fullmatch(value) or _SHORT_DURATION.fullmatch(value)
    parts = ("days", "hours", "minutes", "seconds")
    # Both patterns also match with every part absent ("", "P", "PT"), and Java's
    # Duration.parse refuses a 'T' with nothing after it ("P1DT").
    if match is None or not any(match[part] for part in parts) or value.upper().endswith("T"):
        raise PlanningError(f"Invalid duration '{value}': {_DURATION_FORM}.")
    fraction = match.groupdict().get("fraction") or ""
    try:
        return timedelta(
            days=int(match["days"] or 0),
            hours=int(match["hours"] or 0),
            minutes=int(match["minutes"] or 0),
            seconds=int(match["seconds"] or 0),
            microseconds=int(fraction[:6].ljust(6, "0")),
        )
    except OverflowError:
        raise PlanningError(f"Invalid duration '{value}': it is too long.") from None


def parse_reset_csv(text: str, group: str) -> dict[PartitionId, int]:
    """Read a reset file as ``kafka-consumer-groups --reset-offsets --export`` writes it.

    Lines are ``topic,partition,offset`` when the first line reads that way, otherwise
    ``group,topic,partition,offset``, of which only the rows of ``group`` are used. Blank lines
    are ignored. A partition listed twice is refused, where the tool would silently let the
    last line win.
    """
    # A byte-order mark (spreadsheets write one) would otherwise become part of the first topic name.
    text = text.removeprefix("\ufeff")
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise PlanningError(
            "The reset file is empty; each line must be topic,partition,offset or group,topic,partition,offset."
        )
    # The tool reads every line as topic,partition,offset when the first line parses so, and
    # as group,topic,partition,offset otherwise. A first line of 3 fields that does not parse
    # cannot parse as 4 either, so choosing by field count gives the same rows and errors that
    # name the form the author meant.
    columns = lines[0][1].count(",") + 1
    first = [field.strip().lower() for field in lines[0][1].split(",")]
    if first[-2:] == ["partition", "offset"]:
        raise PlanningError(
            f"Line {lines[0][0]} of the reset file is a header ({lines[0][1]}): the file has none, as "
            "kafka-consumer-groups --export writes it. Remove that line and upload it again."
        )
    if columns not in (3, 4):
        raise PlanningError(
            f"Line {lines[0][0]} of the reset file is not valid: it has {_fields(columns)}. Each line must be "
            "topic,partition,offset or group,topic,partition,offset, "
            f"such as orders,0,1500 or {group},orders,0,1500."
        )
    with_group = columns == 4
    form = "group,topic,partition,offset" if with_group else "topic,partition,offset"
    example = f"{group},orders,0,1500" if with_group else "orders,0,1500"

    offsets: dict[PartitionId, int] = {}
    line_of: dict[PartitionId, int] = {}
    groups_seen = set()
    for number, line in lines:
        fields = [field.strip() for field in line.split(",")]
        problem = _csv_problem(fields, columns)
        if problem:
            raise PlanningError(
                f"Line {number} of the reset file is not valid: {problem}. Each line must be {form}, such as {example}."
            )
        row_group, topic, partition, offset = fields if with_group else [group, *fields]
        groups_seen.add(row_group)
        if row_group != group:
            continue
        pid = (topic, int(partition))
        if pid in offsets:
            raise PlanningError(
                f"Line {number} of the reset file lists {topic}-{pid[1]} again "
                f"(first on line {line_of[pid]}); keep one line per partition."
            )
        offsets[pid] = int(offset)
        line_of[pid] = number
    if not offsets:
        raise PlanningError(
            f"No reset plan for group {group} found. The file has rows for: {', '.join(sorted(groups_seen))}."
        )
    return offsets


def _csv_problem(fields: list[str], columns: int) -> str | None:
    if len(fields) != columns:
        return f"it has {_fields(len(fields))} instead of {columns}"
    *names, partition, offset = fields
    if not all(names):
        return "a name is empty"
    if not WHOLE_NUMBER.fullmatch(partition):
        return f"partition '{partition}' is not a whole number"
    if not WHOLE_NUMBER.fullmatch(offset):
        return f"offset '{offset}' is not a whole number"
    return None


def _fields(count: int) -> str:
    return f"{count} field{'' if count == 1 else 's'}"


def export_csv(plan: ResetPlan) -> str:
    """The plan as ``--export`` writes it for one group: ``topic,partition,offset`` lines."""
    return offsets_csv((row.topic, row.partition, row.after) for row in plan.rows)


def offsets_csv(offsets: Iterable[tuple[str, int, int]]) -> str:
    """(topic, partition, offset) as ``--export`` writes them and ``--from-file`` reads them, sorted."""
    return "".join(f"{topic},{partition},{offset}\n" for topic, partition, offset in sorted(offsets))
