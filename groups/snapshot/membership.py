"""Rebalances as collection rounds see them: a group's members and their partitions in two rounds, what
changed between them, and how many records the change could have handed out a second time.

A classic group's DescribeGroups answer carries no generation, so for it a rebalance is a change of
members or of who owns which partition; a KIP-848 group's group epoch is read as well, and any change of
it counts, even one that kept every partition where it was. Only settled groups are compared: in the
middle of a rebalance (PreparingRebalance, CompletingRebalance, Assigning, Reconciling) members report
partial or empty assignments, which would read as partitions moving away and back.
Pure: no Django, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from groups.kafka import TP, Member

SETTLED_STATES = frozenset({"Stable", "Empty"})


class _Assigned(Protocol):
    @property
    def member_id(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def assignment(self) -> tuple[TP, ...]: ...


def fingerprint(members: Iterable[_Assigned]) -> str:
    """Equal for equal members and assignments, in any order: lets a round compare every group with what it
    stored without building or loading a Membership for each (10,000 of those cost a second, measured)."""
    lines = sorted(
        f"{m.member_id}\x1f{m.client_id}\x1f{m.host.removeprefix('/')}\x1f"
        + "\x1e".join(f"{topic}\x1d{partition}" for topic, partition in sorted(m.assignment))
        for m in members
    )
    return hashlib.blake2b("\x1c".join(lines).encode(), digest_size=20).hexdigest()


@dataclass(frozen=True)
class SeenMember:
    member_id: str
    client_id: str
    host: str
    assignment: tuple[TP, ...]

    def as_json(self) -> dict:
        """Who the member is, without its partitions (a rebalance lists those as moves)."""
        return {"member_id": self.member_id, "client_id": self.client_id, "host": self.host}


@dataclass(frozen=True)
class Membership:
    """A group's members, sorted by member id, and its generation where Kafka tells it (KIP-848 only)."""

    generation: int | None
    members: tuple[SeenMember, ...]

    @classmethod
    def of(cls, generation: int | None, members: Iterable[Member]) -> Membership:
        seen = (SeenMember(m.member_id, m.client_id, m.display_host, tuple(sorted(m.assignment))) for m in members)
        return cls(generation, tuple(sorted(seen, key=lambda m: m.member_id)))

    def to_json(self) -> list:
        return [[m.member_id, m.client_id, m.host, [list(tp) for tp in m.assignment]] for m in self.members]

    @classmethod
    def from_json(cls, generation: int | None, members: list) -> Membership:
        return cls(
            generation,
            tuple(SeenMember(m, c, h, tuple(TP(t, p) for t, p in a)) for m, c, h, a in members),
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.members)

    def owners(self) -> dict[TP, SeenMember]:
        return {tp: m for m in self.members for tp in m.assignment}


@dataclass(frozen=True)
class Move:
    """A partition that changed owner; `source` or `target` is None where nobody held it."""

    tp: TP
    source: SeenMember | None
    target: SeenMember | None


@dataclass(frozen=True)
class Change:
    previous_generation: int | None
    generation: int | None
    joined: tuple[SeenMember, ...]
    left: tuple[SeenMember, ...]
    moved: tuple[Move, ...]


def diff(old: Membership, new: Membership) -> Change | None:
    """What changed from `old` to `new`; None when nothing did (a generation counts only where both are known)."""
    old_ids = {m.member_id for m in old.members}
    new_ids = {m.member_id for m in new.members}
    joined = tuple(m for m in new.members if m.member_id not in old_ids)
    left = tuple(m for m in old.members if m.member_id not in new_ids)
    before, after = old.owners(), new.owners()
    moved = tuple(
        Move(tp, before.get(tp), after.get(tp))
        for tp in sorted(before.keys() | after.keys())
        if _member_id(before.get(tp)) != _member_id(after.get(tp))
    )
    generation_changed = old.generation is not None and new.generation is not None and old.generation != new.generation
    if not (joined or left or moved or generation_changed):
        return None
    return Change(old.generation, new.generation, joined, left, moved)


def _member_id(member: SeenMember | None) -> str | None:
    return member.member_id if member else None


def redelivery_bound(
    move: Move, committed_before: Mapping[TP, int], log_end_after: Mapping[TP, int | None]
) -> int | None:
    """At most how many records of the moved partition its next owner could read again: those between the
    group's last commit seen before the rebalance and the log end seen after it (the previous owner may have
    processed any of them without committing). 0 for a partition nobody held before; None where either
    offset is unknown (no commit yet: the next owner starts where its auto.offset.reset says)."""
    if move.source is None:
        return 0
    committed, end = committed_before.get(move.tp), log_end_after.get(move.tp)
    if committed is None or end is None:
        return None
    return max(0, end - committed)


def total_bound(bounds: Iterable[int | None]) -> int | None:
    """The sum of the known bounds; None when none is known."""
    known = [b for b in bounds if b is not None]
    return sum(known) if known else None
