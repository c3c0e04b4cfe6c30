"""Offset deletion planning: the partitions a deletion covers, what each holds now, and whether Kafka allows it.

The scope is read as ``kafka-consumer-groups --delete-offsets --topic`` reads it (``orders`` for every
partition of the topic, ``orders:0,2`` for some; kafka-semantics.md A.4), with the parser and the
existence checks of reset scopes. Kafka refuses the offsets of a topic the group subscribes to,
and deletes nothing where a partition has no committed offset; the plan says both before anything
is asked. Pure: the caller reads Kafka and passes the facts in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from groups.planning.resets import PartitionId, PlanningError

NO_OFFSET = "no committed offset: nothing to delete"
SUBSCRIBED = "the group subscribes to this topic: Kafka refuses it"


@dataclass(frozen=True)
class PartitionOffsets:
    """What one partition in scope holds: the group's committed offset (None: none) and its log's bounds
    (None where Kafka did not tell them, e.g. a partition without a leader)."""

    topic: str
    partition: int
    committed: int | None
    log_start: int | None
    log_end: int | None


@dataclass(frozen=True)
class DeletionRow:
    """One partition of a deletion: the offset it loses and the lag that goes with it."""

    topic: str
    partition: int
    before: int | None
    log_start: int | None
    log_end: int | None
    subscribed: bool = False

    @property
    def lag(self) -> int | None:
        """Records between the committed offset and the log end, as the tool's LAG column (not clamped)."""
        if self.before is None or self.log_end is None:
            return None
        return self.log_end - self.before

    @property
    def note(self) -> str:
        if self.subscribed:
            return SUBSCRIBED
        return NO_OFFSET if self.before is None else ""


@dataclass(frozen=True)
class DeletionPlan:
    """Rows sorted by topic and partition."""

    rows: tuple[DeletionRow, ...]

    @property
    def with_offsets(self) -> tuple[DeletionRow, ...]:
        return tuple(row for row in self.rows if row.before is not None)

    @property
    def without_offsets(self) -> tuple[DeletionRow, ...]:
        return tuple(row for row in self.rows if row.before is None)

    @property
    def subscribed_topics(self) -> list[str]:
        return sorted({row.topic for row in self.rows if row.subscribed})

    @property
    def lag(self) -> int:
        """The lag the deleted offsets carry: the records the group had not read on those partitions."""
        return sum(row.lag or 0 for row in self.with_offsets)

    @property
    def refusal(self) -> str | None:
        """Why the deletion cannot be asked as it stands, if it cannot."""
        topics = self.subscribed_topics
        if topics:
            named = ", ".join(topics)
            return (
                f"The group's members subscribe to topic{'s' if len(topics) > 1 else ''} {named}: stop them or "
                "change their subscription first (Kafka refuses to delete the offsets of a subscribed topic)."
            )
        if not self.with_offsets:
            return (
                "Nothing to delete: no partition in scope has a committed offset. Choose topics or partitions "
                "the group has offsets for."
            )
        return None

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the person confirming should know about where the group resumes afterwards."""
        found: list[str] = []
        if self.without_offsets:
            found.append(f"These have no committed offset, so nothing changes there: {_names(self.without_offsets)}.")
        if self.with_offsets:
            found.append(
                "Afterwards the group has no position on "
                f"{len(self.with_offsets)} partition{'s' if len(self.with_offsets) > 1 else ''}: a consumer that "
                "reads them again starts where its auto.offset.reset says (latest: skipping the "
                f"{self.lag} records of lag; earliest: from the log start)."
            )
        return tuple(found)


def plan_deletion(
    partitions: Iterable[PartitionOffsets],
    *,
    subscribed: Collection[str] = (),
    subscribed_to_all: bool = False,
) -> DeletionPlan:
    """The deletion of the partitions in scope (resolved and checked to exist by the caller).

    `subscribed` are the topics the group's members subscribe to (or are assigned); with
    `subscribed_to_all` a member's subscription could not be read, and Kafka then counts the group as
    subscribed to every topic.
    """
    rows = sorted(
        (
            DeletionRow(
                topic=fact.topic,
                partition=fact.partition,
                before=fact.committed,
                log_start=fact.log_start,
                log_end=fact.log_end,
                subscribed=subscribed_to_all or fact.topic in subscribed,
            )
            for fact in partitions
        ),
        key=lambda row: (row.topic, row.partition),
    )
    return DeletionPlan(rows=tuple(rows))


def scope_text(topics: Iterable[str], partitions: Iterable[str], typed: str = "") -> str:
    """The ``--topic`` arguments for whole topics, ``topic:partition`` choices and typed arguments, as one scope.

    Partitions of a topic chosen whole are left out, as they are in it already; the rest are grouped
    by topic (``orders:0,2``). The result is read by ``resets.parse_scope``, which checks it.
    """
    whole = set(topics)
    chosen: dict[str, set[int]] = {}
    for choice in partitions:
        topic, _, number = choice.rpartition(":")
        if not topic or not (number.isascii() and number.isdecimal()):
            raise PlanningError(f"Cannot read the partition '{choice}': expected topic:partition, such as orders:0.")
        if topic not in whole:
            chosen.setdefault(topic, set()).add(int(number))
    arguments = sorted(whole) + [
        f"{topic}:{','.join(str(p) for p in sorted(numbers))}" for topic, numbers in sorted(chosen.items())
    ]
    return " ".join(arguments + typed.split())


def drifted(rows: Iterable[Mapping], current: Mapping[PartitionId, int]) -> list[str]:
    """The plan rows (dicts with topic, partition, before) whose committed offset is no longer what the preview
    found, each said as "orders-0 was 5 at preview, now 9"."""
    return [
        f"{row['topic']}-{row['partition']} was {_offset(row['before'])} at preview, "
        f"now {_offset(current.get((row['topic'], row['partition'])))}"
        for row in rows
        if current.get((row["topic"], row["partition"])) != row["before"]
    ]


def refuse_recommitted(
    operation_id: int, before: Mapping[PartitionId, int | None], current: Mapping[PartitionId, int]
) -> None:
    """Refuse to put back the offsets operation #`operation_id` deleted where a partition has a new commit since.

    Undoing a deletion commits the deleted offsets again; over a commit made since then (the group's
    consumers resumed, or someone reset it) that would move the group back without anyone noticing.
    """
    again = sorted(
        (pid, offset, current[pid]) for pid, offset in before.items() if offset is not None and pid in current
    )
    if not again:
        return
    named = ", ".join(f"{topic}-{partition} (deleted {old}, now {new})" for (topic, partition), old, new in again)
    raise PlanningError(
        f"Since operation #{operation_id} deleted these offsets, the group committed new ones: {named}. Putting the "
        "old ones back would overwrite them, so nothing was planned. Reset to the offsets you want instead."
    )


def group_deletion_refusal(
    operation_id: int,
    group_id: str,
    *,
    status: str,
    group_type: str,
    internal_topics: Sequence[Mapping],
    offsets: int,
) -> str | None:
    """Why the deletion of group `group_id` (operation #`operation_id`, its `status`, the deleted group's
    `group_type` as recorded, the `internal_topics` rows it deleted too, the number of `offsets` it deleted)
    cannot be undone, if it cannot. Its undo commits the deleted offsets to the group id again, which
    re-creates the group as an Empty consumer group with them."""
    this = f"Operation #{operation_id} cannot be undone:"
    if status != "succeeded":
        return f"{this} only a group deletion that succeeded can be, and this one is {status}."
    topics = ", ".join(row["topic"] for row in internal_topics if row.get("deleted", True))
    if group_type == "streams":
        deleted_too = f" with its internal topics ({topics})" if topics else ""
        return (
            f"{this} it deleted streams group '{group_id}'{deleted_too}. Its offsets could only be committed back "
            "into a classic consumer group, which the application's streams protocol would not take over. Start "
            "the application so that it creates its group again, then reset its offsets (Reset offsets on the "
            "group's page, or kafka-streams-application-reset) to the offsets the operation lists."
        )
    if internal_topics:
        return (
            f"{this} it also deleted the internal topics {topics}, and putting back the offsets would not bring "
            "back those topics or the state they held. Reset the group's offsets once its application runs again."
        )
    if group_type not in ("consumer", "classic"):
        return (
            f"{this} it was recorded before the console kept the type of the group it deleted, so whether its "
            "offsets can go back into a consumer group cannot be told. If it was a consumer group, put them "
            "back with the reset file on its page (a reset from a file, or kafka-consumer-groups --from-file)."
        )
    if not offsets:
        return (
            f"{this} group '{group_id}' held no committed offset when it was deleted, so there is nothing to put back."
        )
    return None


def refuse_recreated(operation_id: int, group_id: str, current: Mapping[PartitionId, int]) -> None:
    """Refuse to undo the deletion of group `group_id` (operation #`operation_id`) once the group id has
    committed offsets again (`current`): someone re-created the group since, and the deleted offsets would be
    mixed into its own."""
    if not current:
        return
    shown = sorted(current.items())
    named = ", ".join(f"{topic}-{partition} at {offset}" for (topic, partition), offset in shown[:5])
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    raise PlanningError(
        f"Group '{group_id}' exists again: since operation #{operation_id} deleted it, it was re-created and has "
        f"committed offsets ({named}{more}). Putting the deleted offsets back would mix them into those, so "
        "nothing was planned. To move the group to the offsets it had, reset it (strategy File, with the reset "
        f"file on operation #{operation_id}'s page)."
    )


def _offset(offset: int | None) -> str:
    return "none" if offset is None else str(offset)


def _names(rows: Iterable[DeletionRow]) -> str:
    return ", ".join(f"{row.topic}-{row.partition}" for row in rows)
