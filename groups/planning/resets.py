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
from datetime import UTC, datetime, timedelta

PartitionId = tuple[str, int]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)
# An integer as the tool's Java parsing accepts it (ASCII digits only).
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+", re.ASCII)


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
    ToEarliest | ToLatest | ToCurrent | ToOffset | ShiftBy | ToDatetime | ByDuration | FromGroup | FromFile | Undo
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
            if not WHOLE_NUMBER.fullmatch(entry):
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
        message += f" The group still has committed offsets for {them}; name the topics to reset instead of all topics."
    return message


def _missing_partitions_message(missing: list[PartitionId]) -> str:
    # "orders--1" would read as a typo of the topic's name: a negative number is named as such.
    names = ", ".join(f"{topic}-{p}" if p >= 0 else f"{p} of {topic}" for topic, p in missing)
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
    """Sums over a plan; ``lag_before`` covers only partitions that had a committed offset (None: none had)."""

    lag_before: int | None
    lag_after: int
    records_to_reconsume: int
    records_to_skip: int


@dataclass(frozen=True)
class ResetPlan:
    """Rows sorted by topic and partition, and warnings written for the person confirming."""

    rows: tuple[PlannedPartition, ...]
    warnings: tuple[str, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        """Every partition would be committed where it already is (or there is none): applying it is pointless."""
        return all(row.after == row.before for row in self.rows)

    @property
    def totals(self) -> PlanTotals:
        known = [row.lag_before for row in self.rows if row.lag_before is not None]
        return PlanTotals(
            lag_before=sum(known) if known else None,
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
        if strategy.duration >= now - EPOCH:
            return 0
        return (now - strategy.duration - EPOCH) // MILLISECOND
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
    if isinstance(strategy, ToDatetime | ByDuration) and (
        offsets_for_time is None or not offsets_for_time.keys() >= set(in_plan)
    ):
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
        rows.append(
            PlannedPartition(
                topic=fact.topic,
                partition=fact.partition,
                before=fact.committed,
                after=after,
                log_start=fact.log_start,
                log_end=fact.log_end,
                clamped=clamped,
                note=note,
            )
        )
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
                return (
                    fact.committed,
                    None,
                    (
                        f"committed offset is outside the log ({fact.log_start} to {fact.log_end}); "
                        "kept as is, as the tool does"
                    ),
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


def _warnings(strategy: Strategy, rows: list[PlannedPartition], left_unchanged: list[PartitionId]) -> list[str]:
    warnings = []
    fallbacks = [(row.topic, row.partition) for row in rows if row.note == NO_RECORD_AT_TIME]
    if fallbacks:
        warnings.append(f"No record at or after that time, so these fall back to the log end: {_names(fallbacks)}.")
    clamped = [f"{row.topic}-{row.partition} ({row.clamped})" for row in rows if row.clamped]
    if clamped:
        warnings.append(f"Clamped to the log, as kafka-consumer-groups does: {', '.join(clamped)}.")
    skipping = [row for row in rows if row.records_to_skip]
    if skipping:
        total = sum(row.records_to_skip or 0 for row in skipping)
        per_partition = ", ".join(f"{row.topic}-{row.partition} ({row.records_to_skip:,})" for row in skipping)
        warnings.append(f"{total:,} records will be skipped and never consumed by this group: {per_partition}.")
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
