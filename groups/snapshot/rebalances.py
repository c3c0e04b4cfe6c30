"""Rebalances: recorded from each fresh collection round, read back for a group's page and its history API,
and pruned with history.

A round compares each settled group with the members it was last seen with (GroupMembership), records
what changed (groups.snapshot.membership) with the records each moved partition could re-deliver, and
keeps the new members for the next round. The previous snapshot, which the store keeps one round after
the new one is served, gives the commits seen before the rebalance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from groups.kafka import TP
from groups.kafka.collect import ClusterReading
from groups.models import Cluster, GroupMembership, Rebalance, SnapshotGroup
from groups.snapshot import rows
from groups.snapshot.membership import (
    SETTLED_STATES,
    Change,
    Membership,
    SeenMember,
    diff,
    fingerprint,
    redelivery_bound,
    total_bound,
)

_BATCH = 500


def _moment(t_ms: int) -> datetime:
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC)


def record_round(cluster: Cluster, reading: ClusterReading) -> int:
    """Record the rebalances `reading` shows against the previous rounds; how many. The first round that sees
    a group only remembers it; a group gone from the cluster is forgotten."""
    seen_at = _moment(reading.t_ms)
    settled = {group_id: group for group_id, group in reading.groups.items() if group.state in SETTLED_STATES}
    stored = {
        group_id: (generation, stored_fingerprint)
        for group_id, generation, stored_fingerprint in GroupMembership.objects.filter(cluster=cluster)
        .values_list("group_id", "generation", "fingerprint")
        .iterator(chunk_size=5000)
    }
    fresh = [group_id for group_id in settled if group_id not in stored]
    differing = [
        group_id
        for group_id, group in settled.items()
        if group_id in stored
        and (
            (group.epoch is not None and stored[group_id][0] != group.epoch)
            or stored[group_id][1] != fingerprint(group.members)
        )
    ]
    now = {
        group_id: Membership.of(settled[group_id].epoch, settled[group_id].members) for group_id in fresh + differing
    }
    gone = [group_id for group_id in stored if group_id not in reading.groups]
    changes: dict[str, Change] = {}
    for group_id, generation, members in _stored_members(cluster, differing):
        change = diff(Membership.from_json(generation, members), now[group_id])
        if change is not None:
            changes[group_id] = change
    rebalances = _rebalances(cluster, reading, seen_at, changes)
    with transaction.atomic():
        Rebalance.objects.bulk_create(rebalances, batch_size=_BATCH)
        GroupMembership.objects.bulk_create(
            [_membership_row(cluster, group_id, now[group_id], seen_at) for group_id in fresh],
            batch_size=_BATCH,
            ignore_conflicts=True,  # a group a concurrent round remembered first: the next round compares
        )
        for group_id in differing:
            membership = now[group_id]
            # A round that could not read a KIP-848 group's epoch keeps the epoch the next one compares with.
            generation = stored[group_id][0] if membership.generation is None else membership.generation
            GroupMembership.objects.filter(cluster=cluster, group_id=group_id).update(
                generation=generation,
                fingerprint=membership.fingerprint,
                members=membership.to_json(),
                seen_at=seen_at,
            )
        for start in range(0, len(gone), _BATCH):
            GroupMembership.objects.filter(cluster=cluster, group_id__in=gone[start : start + _BATCH]).delete()
    return len(rebalances)


def _stored_members(cluster: Cluster, group_ids: list[str]) -> Iterable[tuple[str, int | None, list]]:
    for start in range(0, len(group_ids), _BATCH):
        yield from GroupMembership.objects.filter(
            cluster=cluster, group_id__in=group_ids[start : start + _BATCH]
        ).values_list("group_id", "generation", "members")


def _membership_row(cluster: Cluster, group_id: str, membership: Membership, seen_at: datetime) -> GroupMembership:
    return GroupMembership(
        cluster=cluster,
        group_id=group_id,
        generation=membership.generation,
        fingerprint=membership.fingerprint,
        members=membership.to_json(),
        seen_at=seen_at,
    )


def _committed_before(cluster: Cluster, group_ids: list[str], seen_at: datetime) -> dict[str, dict[TP, int]]:
    """Each group's committed offsets in the newest snapshot older than this round (the previous round's)."""
    found: dict[str, dict[TP, int]] = {}
    for start in range(0, len(group_ids), _BATCH):
        chosen = (
            SnapshotGroup.objects.filter(
                snapshot__cluster=cluster,
                snapshot__taken_at__lt=seen_at,
                group_id__in=group_ids[start : start + _BATCH],
            )
            .order_by("group_id", "-snapshot__taken_at")
            .values_list("group_id", "detail")
        )
        for group_id, detail in chosen:
            if group_id not in found:
                found[group_id] = {
                    TP(p.topic, p.partition): p.committed
                    for p in rows.decode_group_detail(detail)
                    if p.committed is not None
                }
    return found


def _member(member: SeenMember | None) -> dict | None:
    return member.as_json() if member else None


def _rebalances(
    cluster: Cluster, reading: ClusterReading, seen_at: datetime, changes: dict[str, Change]
) -> list[Rebalance]:
    committed = _committed_before(cluster, sorted(g for g, c in changes.items() if c.moved), seen_at)
    log_end = {tp: p.log_end for tp, p in reading.partitions.items()}
    made = []
    for group_id, change in sorted(changes.items()):
        before = committed.get(group_id, {})
        moved, bounds = [], []
        for move in change.moved:
            bound = redelivery_bound(move, before, log_end)
            bounds.append(bound)
            moved.append(
                {
                    "topic": move.tp.topic,
                    "partition": move.tp.partition,
                    "from": _member(move.source),
                    "to": _member(move.target),
                    "committed": before.get(move.tp),
                    "log_end": log_end.get(move.tp),
                    "redelivery_upper_bound": bound,
                }
            )
        made.append(
            Rebalance(
                cluster=cluster,
                group_id=group_id,
                seen_at=seen_at,
                generation=change.generation,
                previous_generation=change.previous_generation,
                joined=[m.as_json() for m in change.joined],
                left=[m.as_json() for m in change.left],
                moved=moved,
                redelivery_upper_bound=total_bound(bounds),
            )
        )
    return made


@dataclass(frozen=True)
class SeenRebalance:
    """A recorded rebalance as pages and the API show it."""

    seen_at: datetime
    generation: int | None
    previous_generation: int | None
    joined: list[dict]
    left: list[dict]
    moved: list[dict]
    redelivery_upper_bound: int | None

    @property
    def unknown_bounds(self) -> int:
        """Moved partitions whose re-delivery could not be bounded (no commit seen before the rebalance)."""
        return sum(1 for m in self.moved if m["redelivery_upper_bound"] is None)

    def as_json(self) -> dict:
        return {
            "t": self.seen_at.astimezone(UTC).isoformat(timespec="milliseconds"),
            "generation": self.generation,
            "previous_generation": self.previous_generation,
            "joined": self.joined,
            "left": self.left,
            "moved": self.moved,
            "redelivery_upper_bound": self.redelivery_upper_bound,
        }


_FIELDS = ("seen_at", "generation", "previous_generation", "joined", "left", "moved", "redelivery_upper_bound")


def recent(cluster: Cluster, group_id: str, limit: int) -> list[SeenRebalance]:
    """The group's `limit` newest rebalances, newest first."""
    found = Rebalance.objects.filter(cluster=cluster, group_id=group_id).order_by("-seen_at", "-pk")[:limit]
    return [SeenRebalance(*values) for values in found.values_list(*_FIELDS)]


def between(cluster: Cluster, group_id: str, since_ms: int, until_ms: int) -> list[SeenRebalance]:
    """The group's rebalances seen in [since_ms, until_ms], oldest first."""
    found = Rebalance.objects.filter(
        cluster=cluster, group_id=group_id, seen_at__range=(_moment(since_ms), _moment(until_ms))
    ).order_by("seen_at", "pk")
    return [SeenRebalance(*values) for values in found.values_list(*_FIELDS)]


def prune(keep_from_ms: int) -> int:
    """Drop rebalances seen before `keep_from_ms`; how many."""
    deleted, _ = Rebalance.objects.filter(seen_at__lt=_moment(keep_from_ms)).delete()
    return deleted
