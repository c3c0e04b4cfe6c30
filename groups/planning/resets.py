"""Offset reset planning: a strategy, a scope and facts read once become an absolute plan.

The plan equals what Apache Kafka's ``kafka-consumer-groups.sh --reset-offsets`` computes from
the same facts (shared/reference/kafka-semantics.md, A.3): the same targets, the same clamping,
the same fallbacks. Everything here is pure; the caller reads Kafka and passes the facts in.

Partitions are identified by ``(topic, partition)`` tuples, so ``groups.kafka.TP`` works as a
key too. Offsets are compared as the tool compares them: "log end" is the high watermark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

PartitionId = tuple[str, int]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)

NO_RECORD_AT_TIME = "no record at or after that time; falls back to the log end"


class PlanningError(ValueError):
    """A reset cannot be planned as asked; the message says what was wrong and what is accepted."""


@dataclass(frozen=True)
class PartitionFacts:
    topic: str
    partition: int
    committed: int | None
    log_start: int
    log_end: int


# Strategies, one class per scenario of the tool plus the console's own three.


@dataclass(frozen=True)
class ToEarliest:
    """Move to the log start (``--to-earliest``)."""


@dataclass(frozen=True)
class ToLatest:
    """Move to the log end (``--to-latest``)."""


@dataclass(frozen=True)
class ToCurrent:
    """Re-commit the committed offset (``--to-current``); partitions without one get the log end."""


@dataclass(frozen=True)
class ToOffset:
    """Move to one offset on every partition (``--to-offset N``), clamped to the log."""

    offset: int


@dataclass(frozen=True)
class ShiftBy:
    """Move each committed offset by ``shift`` (``--shift-by ±N``), clamped to the log."""

    shift: int


@dataclass(frozen=True)
class ToDatetime:
    """Move to the first record stamped at or after ``timestamp_ms`` (``--to-datetime``)."""

    timestamp_ms: int


@dataclass(frozen=True)
class ByDuration:
    """Move to the first record stamped at or after now − ``duration`` (``--by-duration``)."""

    duration: timedelta


@dataclass(frozen=True)
class FromGroup:
    """Copy another group's committed offsets, clamped to the log like ``--from-file``."""

    group: str
    offsets: Mapping[PartitionId, int]


@dataclass(frozen=True)
class FromFile:
    """Offsets read from a reset file (``--from-file``, see ``parse_reset_csv``), clamped."""

    offsets: Mapping[PartitionId, int]


@dataclass(frozen=True)
class Undo:
    """Put back the offsets an earlier operation found (None: there was no committed offset)."""

    before: Mapping[PartitionId, int | None]


Strategy = (
    ToEarliest | ToLatest | ToCurrent | ToOffset | ShiftBy | ToDatetime | ByDuration
    | FromGroup | FromFile | Undo
)


# Scope


@dataclass(frozen=True)
class Scope:
    """Which partitions a reset touches: whole topics and single partitions, or all topics.

    ``all_topics`` means the partitions that already have a committed offset, and wins over
    the other fields, as ``--all-topics`` wins over ``--topic`` in the tool.
    """

    all_topics: bool = False
    topics: frozenset[str] = frozenset()
    partitions: frozenset[PartitionId] = frozenset()


ALL_TOPICS = Scope(all_topics=True)


def parse_scope(text: str) -> Scope:
    """Parse topic arguments as ``--topic`` takes them: ``orders`` or ``orders:0,2``.

    Several arguments may be given separated by whitespace (topic names cannot contain any);
    the scope is their union.
    """
    arguments = text.split()
    if not arguments:
        raise PlanningError("Name at least one topic, such as orders, or partitions, such as orders:0,2.")
    topics: set[str] = set()
    partitions: set[PartitionId] = set()
    for argument in arguments:
        if ":" not in argument:
            topics.add(argument)
            continue
        pieces = argument.split(":")
        entries = pieces[-1].split(",")
        # The tool splits with Java's String.split, which drops trailing empty strings, so it
        # reads "orders:0," as partition 0; do the same.
        while entries and entries[-1] == "":
            entries.pop()
        if len(pieces) != 2 or not pieces[0] or not entries:
            raise PlanningError(
                f"Invalid topic arg '{argument}': expected a topic name, such as orders, "
                "or a topic name and partitions, such as orders:0,2."
            )
        for entry in entries:
            if not _INTEGER.fullmatch(entry):
                raise PlanningError(
                    f"Invalid partition '{entry}' in topic arg '{argument}': "
                    "partitions are numbers separated by commas, such as orders:0,2."
                )
            partitions.add((pieces[0], int(entry)))
    return Scope(topics=frozenset(topics), partitions=frozenset(partitions))


def resolve_scope(
    scope: Scope,
    committed_partitions: Iterable[PartitionId],
    topic_partition_counts: Mapping[str, int],
) -> list[PartitionId]:
    """The partitions ``scope`` covers, sorted, after checking every one of them exists.

    ``committed_partitions`` are the group's partitions with a committed offset (the all-topics
    scope); ``topic_partition_counts`` maps each existing topic to its number of partitions.
    Like the tool (4.x), a scope naming anything that does not exist is refused as a whole.
    """
    if scope.all_topics:
        requested = set(committed_partitions)
        whole_topics: frozenset[str] = frozenset()
    else:
        requested = set(scope.partitions)
        whole_topics = scope.topics

    named_topics = whole_topics | {topic for topic, _ in requested}
    unknown_topics = sorted(named_topics - topic_partition_counts.keys())
    missing = sorted(
        (topic, partition)
        for topic, partition in requested
        if topic in topic_partition_counts and not 0 <= partition < topic_partition_counts[topic]
    )
    problems = []
    if unknown_topics:
        problems.append(_unknown_topics_message(unknown_topics, from_commits=scope.all_topics))
    if missing:
        ranges = _partition_ranges({topic for topic, _ in missing}, topic_partition_counts)
        problems.append(f"{_missing_partitions_message(missing)}; {ranges}.")
    if problems:
        raise PlanningError(" ".join(problems))

    for topic in whole_topics:
        requested.update((topic, partition) for partition in range(topic_partition_counts[topic]))
    return sorted(requested)


def _unknown_topics_message(topics: list[str], *, from_commits: bool) -> str:
    quoted = ", ".join(f"'{topic}'" for topic in topics)
    message = f"Topic {quoted} does not exist." if len(topics) == 1 else f"Topics {quoted} do not exist."
    if from_commits:
        them = "it" if len(topics) == 1 else "them"
        message += (
            f" The group still has committed offsets for {them}; name the topics to reset instead of all topics."
        )
    return message


def _missing_partitions_message(missing: list[PartitionId]) -> str:
    names = _names(missing)
    if len(missing) == 1:
        return f"The partition {names} does not exist"
    return f"The partitions {names} do not exist"


def _partition_ranges(topics: Iterable[str], counts: Mapping[str, int]) -> str:
    ranges = []
    for topic in sorted(topics):
        count = counts[topic]
        if count == 1:
            ranges.append(f"{topic} has only partition 0")
        else:
            ranges.append(f"{topic} has partitions 0 to {count - 1}")
    return ", ".join(ranges)


# Plan


@dataclass(frozen=True)
class PlannedPartition:
    """One partition of a plan: where the group is, where it will be, and why."""

    topic: str
    partition: int
    before: int | None
    after: int
    log_start: int
    log_end: int
    clamped: str | None = None
    note: str | None = None

    @property
    def lag_before(self) -> int | None:
        # Not clamped at zero, like the tool's LAG column: a commit above the log end shows.
        return None if self.before is None else self.log_end - self.before

    @property
    def lag_after(self) -> int:
        return self.log_end - self.after

    @property
    def delta(self) -> int | None:
        """after − before: negative means offsets consumed again, positive means offsets skipped."""
        return None if self.before is None else self.after - self.before

    @property
    def records_to_reconsume(self) -> int | None:
        """Offsets still in the log that the group will read a second time."""
        return None if self.before is None else self._offsets_in_log(self.after, self.before)

    @property
    def records_to_skip(self) -> int | None:
        """Offsets still in the log that the group will never read."""
        return None if self.before is None else self._offsets_in_log(self.before, self.after)

    def _offsets_in_log(self, low: int, high: int) -> int:
        # Only [log start, log end) holds records: moving off a commit that retention has
        # already passed, or that sits above the log end, neither skips nor replays anything.
        return max(0, min(high, self.log_end) - max(low, self.log_start))


@dataclass(frozen=True)
class PlanTotals:
    """Sums over a plan; ``lag_before`` covers only partitions that had a committed offset."""

    lag_before: int
    lag_after: int
    records_to_reconsume: int
    records_to_skip: int


@dataclass(frozen=True)
class ResetPlan:
    """Rows sorted by topic and partition, and warnings written for the person confirming."""

    rows: tuple[PlannedPartition, ...]
    warnings: tuple[str, ...] = ()

    @property
    def totals(self) -> PlanTotals:
        return PlanTotals(
            lag_before=sum(row.lag_before for row in self.rows if row.lag_before is not None),
            lag_after=sum(row.lag_after for row in self.rows),
            records_to_reconsume=sum(row.records_to_reconsume or 0 for row in self.rows),
            records_to_skip=sum(row.records_to_skip or 0 for row in self.rows),
        )


def lookup_timestamp(strategy: Strategy, now: datetime) -> int | None:
    """The epoch-millisecond timestamp to look up per partition, or None for other strategies.

    ``now`` must be timezone-aware. The caller looks the timestamp up with
    ``list_offsets(for_timestamp(T))`` and hands the answers to ``plan_reset``.
    """
    if isinstance(strategy, ToDatetime):
        return strategy.timestamp_ms
    if isinstance(strategy, ByDuration):
        # Negative timestamps are sentinels in ListOffsets (-1 latest, -2 earliest, ...), so a
        # look-back past 1970 asks for 0, which finds the first record as the operator meant.
        if strategy.duration >= now - _EPOCH:
            return 0
        return (now - strategy.duration - _EPOCH) // _MILLISECOND
    return None


def plan_reset(
    strategy: Strategy,
    partitions: Iterable[PartitionFacts],
    *,
    offsets_for_time: Mapping[PartitionId, int | None] | None = None,
) -> ResetPlan:
    """Turn a strategy and the facts of the partitions in scope into an absolute plan.

    For ``FromFile`` and ``Undo`` the plan covers the partitions they name, as the tool ignores
    the scope for ``--from-file``: ``partitions`` must hold facts for each of them (check they
    exist first with ``resolve_scope(Scope(partitions=...), ...)``). For the time strategies,
    ``offsets_for_time`` holds the answer of the timestamp lookup for every partition (None or
    -1: no record at or after that time).

    ``FromGroup`` partitions the other group never committed, and ``Undo`` partitions that had
    no committed offset before, are left out of the plan (a commit cannot remove an offset) and
    named in a warning. ``ShiftBy`` refuses the whole plan if a partition has no committed
    offset, as the tool does.
    """
    facts = {(fact.topic, fact.partition): fact for fact in partitions}
    if isinstance(strategy, FromFile | Undo):
        named = strategy.offsets if isinstance(strategy, FromFile) else strategy.before
        missing = sorted(named.keys() - facts.keys())
        if missing:
            raise PlanningError(_missing_partitions_message(missing) + ".")
        in_plan = sorted(named)
    else:
        in_plan = sorted(facts)

    if isinstance(strategy, ShiftBy):
        uncommitted = [pid for pid in in_plan if facts[pid].committed is None]
        if uncommitted:
            noun = "partition" if len(uncommitted) == 1 else "partitions"
            raise PlanningError(
                f"Cannot shift offset for {noun} {_names(uncommitted)} since there is no current "
                "committed offset. Limit the scope to partitions that have one, or use another strategy."
            )
    if isinstance(strategy, ToDatetime | ByDuration):
        if offsets_for_time is None or not offsets_for_time.keys() >= set(in_plan):
            raise ValueError("plan_reset needs the timestamp lookup of every partition for a time strategy")

    rows = []
    left_unchanged = []
    for pid in in_plan:
        target = _target(strategy, facts[pid], offsets_for_time)
        if target is None:
            left_unchanged.append(pid)
            continue
        after, clamped, note = target
        fact = facts[pid]
        rows.append(PlannedPartition(
            topic=fact.topic,
            partition=fact.partition,
            before=fact.committed,
            after=after,
            log_start=fact.log_start,
            log_end=fact.log_end,
            clamped=clamped,
            note=note,
        ))
    return ResetPlan(rows=tuple(rows), warnings=tuple(_warnings(strategy, rows, left_unchanged)))


_Target = tuple[int, str | None, str | None]


def _target(
    strategy: Strategy,
    fact: PartitionFacts,
    offsets_for_time: Mapping[PartitionId, int | None] | None,
) -> _Target | None:
    """(after, why clamped, note) for one partition, or None to leave it alone."""
    pid = (fact.topic, fact.partition)
    match strategy:
        case ToEarliest():
            return fact.log_start, None, None
        case ToLatest():
            return fact.log_end, None, None
        case ToCurrent():
            if fact.committed is None:
                return fact.log_end, None, "no committed offset; set to the log end, as the tool does"
            if _outside_log(fact.committed, fact):
                return fact.committed, None, (
                    f"committed offset is outside the log ({fact.log_start} to {fact.log_end}); "
                    "kept as is, as the tool does"
                )
            return fact.committed, None, None
        case ToOffset(offset=offset):
            return _clamp(offset, fact, "requested")
        case ShiftBy(shift=shift):
            assert fact.committed is not None  # plan_reset refused uncommitted partitions
            return _clamp(fact.committed + shift, fact, f"{fact.committed} shifted by {shift:+d} =")
        case ToDatetime() | ByDuration():
            assert offsets_for_time is not None  # plan_reset checked the lookups are there
            found = offsets_for_time[pid]
            if found is None or found == -1:
                return fact.log_end, None, NO_RECORD_AT_TIME
            # Not clamped: the tool trusts the broker's answer.
            return found, None, None
        case FromGroup(group=group, offsets=offsets):
            if pid not in offsets:
                return None
            return _clamp(offsets[pid], fact, f"group '{group}' offset")
        case FromFile(offsets=offsets):
            return _clamp(offsets[pid], fact, "requested")
        case Undo(before=before):
            earlier = before[pid]
            if earlier is None:
                return None
            return _clamp(earlier, fact, "earlier offset")
    raise TypeError(f"not a reset strategy: {strategy!r}")


def _outside_log(offset: int, log: PartitionFacts | PlannedPartition) -> bool:
    return not log.log_start <= offset <= log.log_end


def _clamp(requested: int, fact: PartitionFacts, source: str) -> _Target:
    # Same order and inclusive bounds as the tool's checkOffsetsRange: above the end first.
    if requested > fact.log_end:
        return fact.log_end, f"{source} {requested} is above the log end {fact.log_end}", None
    if requested < fact.log_start:
        return fact.log_start, f"{source} {requested} is below the log start {fact.log_start}", None
    return requested, None, None


def _warnings(
    strategy: Strategy, rows: list[PlannedPartition], left_unchanged: list[PartitionId]
) -> list[str]:
    warnings = []
    fallbacks = [(row.topic, row.partition) for row in rows if row.note == NO_RECORD_AT_TIME]
    if fallbacks:
        warnings.append(
            f"No record at or after that time, so these fall back to the log end: {_names(fallbacks)}."
        )
    clamped = [f"{row.topic}-{row.partition} ({row.clamped})" for row in rows if row.clamped]
    if clamped:
        warnings.append(f"Clamped to the log, as kafka-consumer-groups does: {', '.join(clamped)}.")
    skipping = [row for row in rows if row.records_to_skip]
    if skipping:
        total = sum(row.records_to_skip or 0 for row in skipping)
        per_partition = ", ".join(f"{row.topic}-{row.partition} ({row.records_to_skip})" for row in skipping)
        warnings.append(f"{total} records will be skipped and never consumed by this group: {per_partition}.")
    if isinstance(strategy, ToCurrent):
        outside = [(row.topic, row.partition) for row in rows if _outside_log(row.after, row)]
        if outside:
            warnings.append(
                f"These keep a committed offset outside the log, so the consumers' auto.offset.reset "
                f"will decide where they resume: {_names(outside)}."
            )
    if left_unchanged and isinstance(strategy, FromGroup):
        warnings.append(
            f"Group '{strategy.group}' has no committed offset for these, so they are left unchanged: "
            f"{_names(left_unchanged)}."
        )
    if left_unchanged and isinstance(strategy, Undo):
        warnings.append(
            "These had no committed offset before that operation and a commit cannot remove one, "
            f"so they are left unchanged: {_names(left_unchanged)}."
        )
    return warnings


def _names(partitions: Iterable[PartitionId]) -> str:
    return ", ".join(f"{topic}-{partition}" for topic, partition in partitions)


# Parsers and export

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


_LATEST_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc) - _EPOCH) // _MILLISECOND


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
    zone = timezone.utc
    if match["sign"]:
        hours, minutes = int(match["zone_hours"]), int(match["zone_minutes"] or 0)
        if hours > 23 or minutes > 59:
            raise PlanningError(f"Invalid date and time '{value}': the zone offset must be at most 23:59.")
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-offset if match["sign"] == "-" else offset)
    try:
        moment = datetime(
            int(match["year"]), int(match["month"]), int(match["day"]),
            int(match["hour"]), int(match["minute"]), int(match["second"]),
            tzinfo=zone,
        )
    except ValueError as error:
        raise PlanningError(f"Invalid date and time '{value}': {error}.") from None
    microseconds = int((match["fraction"] or "").ljust(6, "0"))
    epoch_ms = (moment - _EPOCH) // _MILLISECOND + -(-microseconds // 1000)
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
    if columns not in (3, 4):
        raise PlanningError(
            f"Line {lines[0][0]} of the reset file is not valid: it has {columns} fields. Each line must be "
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
                f"Line {number} of the reset file is not valid: {problem}. "
                f"Each line must be {form}, such as {example}."
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
        return f"it has {len(fields)} fields instead of {columns}"
    *names, partition, offset = fields
    if not all(names):
        return "a name is empty"
    if not _INTEGER.fullmatch(partition):
        return f"partition '{partition}' is not a whole number"
    if not _INTEGER.fullmatch(offset):
        return f"offset '{offset}' is not a whole number"
    return None


def export_csv(plan: ResetPlan) -> str:
    """The plan as ``--export`` writes it for one group: ``topic,partition,offset`` lines."""
    rows = sorted(plan.rows, key=lambda row: (row.topic, row.partition))
    return "".join(f"{row.topic},{row.partition},{row.after}\n" for row in rows)
