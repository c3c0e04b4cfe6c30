"""Groups' history as the pages chart it and the API returns it: points from the history store, and
this console's operations that moved a group (resets, undos, replays into its topics)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.cache import cache
from django.db.models import Q
from django.urls import reverse
from django.utils.safestring import SafeString

from groups.chart_page import ChartRange, HistoryChart, history_chart
from groups.chart_scales import HOUR_MS, MESSAGES, SECONDS
from groups.charts import ChartMarker, ChartSeries, sparkline_svg
from groups.models import Cluster, Operation, Snapshot
from groups.snapshot import history
from groups.snapshot.history_packing import Point, Value

# Points a chart draws at most: a longer range is read as wider roll-ups (the SVG, the uPlot data
# and the table all carry every point, so this bounds the page's size).
CHART_MAX_POINTS = 1500
# A line breaks where two points are further apart than this many periods (collection rounds, or
# roll-up buckets): the collector saw nothing there, and nothing is drawn.
GAP_PERIODS = 2.5
SPARKLINE_CACHE_SECONDS = 600
# Where each figure sits in a group series' values.
LAG, LAG_SECONDS, STATUS = (
    history.VALUES[history.SERIES_GROUP].index(name) for name in ("lag", "lag_seconds", "status")
)


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
    resets = Operation.objects.filter(
        cluster=cluster,
        kind__in=Operation.RESET_KINDS,
        group_id=group_id,
        status=Operation.Status.SUCCEEDED,
        finished__range=(since, until),
    )
    found += [
        Move(pk, _ms(finished), "undo" if undo_of else "reset")
        for pk, finished, undo_of in resets.values_list("pk", "finished", "undo_of_id")
        if finished
    ]
    targets = list(topics)
    if targets:
        replays = Operation.objects.filter(
            Q(replay__target_topic__in=targets),
            cluster=cluster,
            kind=Operation.Kind.REPLAY,
            started__range=(since, until),
        )
        found += [Move(pk, _ms(started), "replay") for pk, started in replays.values_list("pk", "started") if started]
    return sorted(found, key=lambda move: (move.t_ms, move.operation_id))


def _number(value: Value) -> float | None:
    return value if isinstance(value, int | float) else None


def group_points(
    cluster: Cluster, group_id: str, since_ms: int, until_ms: int, max_points: int | None = None
) -> list[Point]:
    """The group's history points (rounds, or 5-minute roll-ups for a long range)."""
    return history.read_series(
        cluster.pk, history.SERIES_GROUP, group_id, since_ms=since_ms, until_ms=until_ms, max_points=max_points
    )


def group_history_kept(cluster: Cluster, group_id: str) -> bool:
    """Whether any of the group's history is kept (a deleted group's, until retention drops it)."""
    return history.series_kept(cluster.pk, history.SERIES_GROUP, group_id)


def _gap_ms(cluster: Cluster, points: list[Point]) -> int:
    step = max((p.span_ms for p in points), default=0) or cluster.collect_every_seconds * 1000
    return int(GAP_PERIODS * step)


def group_chart(
    cluster: Cluster, group_id: str, topics: Iterable[str], time_range: ChartRange, end_ms: int
) -> HistoryChart:
    """The group page's chart: lag in messages and in seconds over `time_range` up to `end_ms`, with the
    console's operations on the group marked; roll-ups drawn as their last value within a min-max band."""
    start_ms = end_ms - time_range.ms
    points = group_points(cluster, group_id, start_ms, end_ms, CHART_MAX_POINTS)
    rolled = any(p.span_ms for p in points)

    def series(label: str, unit: str, index: int) -> ChartSeries:
        band = [(p.t_ms, _number(p.low[index]), _number(p.high[index])) for p in points] if rolled else None
        return ChartSeries(label, unit, [(p.t_ms, _number(p.last[index])) for p in points], band)

    markers = [move.marker() for move in moves(cluster, group_id, topics, start_ms, end_ms)]
    return history_chart(
        [series("Lag (messages)", MESSAGES, LAG), series("Lag (seconds)", SECONDS, LAG_SECONDS)],
        markers,
        time_range=time_range,
        end_ms=end_ms,
        title=f"Lag of {group_id}",
        max_step_ms=_gap_ms(cluster, points),
    )


def _sparkline_key(cluster: Cluster, snapshot_id: int, group_id: str) -> str:
    # Hashed: a group id may hold characters (spaces, newlines) a cache key must not.
    return f"sparkline:{cluster.pk}:{snapshot_id}:{hashlib.sha1(group_id.encode()).hexdigest()}"


def lag_sparklines(
    cluster: Cluster, snapshot: Snapshot, group_ids: Iterable[str]
) -> tuple[dict[str, SafeString], bool]:
    """A sparkline of each group's lag over the hour up to `snapshot`, every row on one time scale; and
    whether they are final (each holds the snapshot's round, which history gets just after the snapshot).

    A sparkline changes only with a round, and every open tab asks for its page every 5 s, so each
    is kept (per process) for its snapshot once it is final; reading 50 series of 240 rounds and
    drawing them costs about 100 ms (measured), a cache hit nothing.
    """
    end_ms = int(snapshot.taken_at.timestamp() * 1000)
    start_ms = end_ms - HOUR_MS
    keys = {group_id: _sparkline_key(cluster, snapshot.pk, group_id) for group_id in group_ids}
    cached = cache.get_many(keys.values())
    out = {group_id: cached[key] for group_id, key in keys.items() if key in cached}
    missing = [group_id for group_id in keys if group_id not in out]
    if not missing:
        return out, True
    found = history.read_recent(cluster.pk, history.SERIES_GROUP, missing, since_ms=start_ms, until_ms=end_ms)
    fresh = {}
    gap_ms = int(GAP_PERIODS * cluster.collect_every_seconds * 1000)
    for group_id in missing:
        rounds = found.get(group_id, [])
        lag = [(t_ms, _number(values[LAG])) for t_ms, values in rounds]
        out[group_id] = sparkline_svg(
            lag, start_ms=start_ms, end_ms=end_ms, max_step_ms=gap_ms, label=f"Lag of {group_id}, last hour"
        )
        # The round is appended to history just after its snapshot is served: not cached until it is there.
        if rounds and rounds[-1][0] >= end_ms:
            fresh[keys[group_id]] = out[group_id]
    cache.set_many(fresh, timeout=SPARKLINE_CACHE_SECONDS)
    return out, len(fresh) == len(missing)
