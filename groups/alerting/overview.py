"""What the alerts page shows a user: the alerts on groups they may view, those that ended, and how their
notifications went."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from groups import access
from groups.alerting.episodes import keep_from
from groups.alerting.mutes import describe, may_have_written
from groups.alerting.payloads import chart_range
from groups.models import AlertDelivery, AlertEpisode, AlertState, Cluster

RECENT_DELIVERIES = 50
RECENT_EPISODES = 100


@dataclass
class AlertRow:
    state: AlertState
    chart_range: str
    mute_text: str  # the operation muting it now, e.g. "offset reset by operation #42 (alice)"; "" when none


@dataclass
class EpisodeRow:
    episode: AlertEpisode
    chart_range: str  # from its start to now, so the chart shows all of it
    fired_for_s: float | None  # from firing to resolved; None when it never fired
    mute_text: str  # the operation that muted it; "" when none (or no longer known)


@dataclass
class Overview:
    firing: list[AlertRow]
    held: list[AlertRow]  # breaching, but pending: waiting out the rule's duration, or muted
    ended: list[EpisodeRow]  # resolved, or held back by a mute until they cleared; newest first
    more_ended: bool  # more ended within retention than `ended` shows
    failing: list[AlertDelivery]  # not delivered yet after a failed attempt, or given up
    deliveries: list[AlertDelivery]


def _visible(user, states: list[AlertState]) -> list[AlertState]:
    by_cluster: dict[int, list[AlertState]] = defaultdict(list)
    for state in states:
        by_cluster[state.cluster_id].append(state)
    shown: set[int] = set()
    for group in by_cluster.values():
        cluster = group[0].cluster
        allowed = set(access.visible_groups(user, cluster, [state.group_id for state in group]))
        shown.update(state.pk for state in group if state.group_id in allowed)
    return [state for state in states if state.pk in shown]


def _viewable(user) -> Q:
    """The (cluster, group) pairs `user` may view, as a filter, so the database slices what is shown."""
    scope = Q(pk__in=[])
    for cluster in Cluster.objects.all():
        groups = access.view_scope(user, cluster)
        scope |= Q(cluster=cluster) if groups is None else Q(cluster=cluster) & groups
    return scope


def _ended(user, now: datetime) -> list[AlertEpisode]:
    return list(
        AlertEpisode.objects.filter(_viewable(user), resolved_at__gte=keep_from(now))
        .select_related("cluster", "muted_by", "muted_by__requester", "muted_by__replay")
        .order_by("-resolved_at", "-pk")[: RECENT_EPISODES + 1]
    )


def overview_for(user, now: datetime) -> Overview:
    """Firing and held alerts on the groups `user` may view, newest change first; the alerts that ended
    within ALERT_EPISODE_RETENTION_DAYS, newest first, several of one rule and group included."""
    states = list(
        AlertState.objects.filter(rule__enabled=True)
        .exclude(phase=AlertState.Phase.RESOLVED)
        .select_related("rule", "cluster", "muted_by", "muted_by__requester")
        .order_by("-updated", "-pk")
    )
    states = _visible(user, states)

    def row(state: AlertState) -> AlertRow:
        since = state.firing_since if state.phase != AlertState.Phase.PENDING else state.pending_since
        mute = (
            describe(state.muted_by)
            if state.muted_until is not None
            and state.muted_until > now
            and state.muted_by is not None
            and may_have_written(state.muted_by)
            else ""
        )
        return AlertRow(state, chart_range(since, now), mute)

    def episode_row(episode: AlertEpisode) -> EpisodeRow:
        start = episode.pending_since or episode.firing_since
        fired = episode.firing_since
        return EpisodeRow(
            episode,
            chart_range(start, now),
            (episode.resolved_at - fired).total_seconds() if fired is not None else None,
            describe(episode.muted_by) if episode.muted_by is not None else "",
        )

    rows = [row(state) for state in states]
    ended = _ended(user, now)
    deliveries = AlertDelivery.objects.filter(
        Q(state__in=[state.pk for state in states]) | Q(episode__in=[episode.pk for episode in ended])
    ).select_related("state", "state__rule", "state__cluster")
    return Overview(
        firing=[r for r in rows if r.state.phase == AlertState.Phase.FIRING],
        held=[r for r in rows if r.state.phase == AlertState.Phase.PENDING],
        ended=[episode_row(episode) for episode in ended[:RECENT_EPISODES]],
        more_ended=len(ended) > RECENT_EPISODES,
        failing=list(deliveries.filter(delivered_at__isnull=True).exclude(last_error="")),
        deliveries=list(deliveries[:RECENT_DELIVERIES]),
    )
