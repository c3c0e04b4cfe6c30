"""One group's history as the group page charts it and the API returns it: points from the history
store, and this console's operations that moved the group (resets, undos, replays into its topics)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q
from django.urls import reverse

from groups.charts import ChartMarker
from groups.models import Cluster, Operation


@dataclass(frozen=True)
class Move:
    """An operation of this console on a group, at the moment it moved the group's offsets or lag."""

    operation_id: int
    t_ms: int
    kind: str  # "reset", "undo" or "replay"

    def marker(self) -> ChartMarker:
        return ChartMarker(self.t_ms, self.kind, self.operation_id, reverse("operation_page", args=[self.operation_id]))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def moves(cluster: Cluster, group_id: str, topics: Iterable[str], since_ms: int, until_ms: int) -> list[Move]:
    """Resets and undos of the group that finished in the range, and replays into its topics that began in it.

    A reset moves the offsets when it finishes; a replay raises the lag of every group reading its
    target topic from the moment it starts copying.
    """
    since = datetime.fromtimestamp(since_ms / 1000, tz=UTC)
    until = datetime.fromtimestamp(until_ms / 1000, tz=UTC)
    found = []
    resets = Operation.objects.filter(cluster=cluster, kind=Operation.Kind.RESET, group_id=group_id,
                                      status=Operation.Status.SUCCEEDED, finished__range=(since, until))
    for pk, finished, undo_of in resets.values_list("pk", "finished", "undo_of_id"):
        found.append(Move(pk, _ms(finished), "undo" if undo_of else "reset"))
    targets = list(topics)
    if targets:
        replays = Operation.objects.filter(Q(replay__target_topic__in=targets), cluster=cluster,
                                           kind=Operation.Kind.REPLAY, started__range=(since, until))
        found += [Move(pk, _ms(started), "replay") for pk, started in replays.values_list("pk", "started")]
    return sorted(found, key=lambda move: (move.t_ms, move.operation_id))
