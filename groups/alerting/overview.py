"""What the alerts page shows a user: the alerts on groups they may view, and how their notifications went."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from groups import access
from groups.alerting.mutes import describe
from groups.alerting.payloads import chart_range
from groups.models import AlertDelivery, AlertState

RECENT = timedelta(hours=24)
RECENT_DELIVERIES = 50


@dataclass
class AlertRow:
    state: AlertState
    chart_range: str
    mute_text: str  # the operation muting it now, e.g. "offset reset by operation #42 (alice)"; "" when none


@dataclass
class Overview:
    firing: list[AlertRow]
    held: list[AlertRow]  # breaching, but pending: waiting out the rule's duration, or muted
    resolved: list[AlertRow]
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


def overview_for(user, now: datetime) -> Overview:
    """Firing, held and recently resolved alerts on the groups `user` may view, newest change first."""
    states = list(
        AlertState.objects.filter(rule__enabled=True)
        .exclude(phase=AlertState.Phase.RESOLVED, resolved_at__lt=now - RECENT)
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
            and state.phase != AlertState.Phase.RESOLVED
            else ""
        )
        return AlertRow(state, chart_range(since, state.resolved_at or now), mute)

    rows = [row(state) for state in states]
    deliveries = AlertDelivery.objects.filter(state__in=[state.pk for state in states]).select_related(
        "state", "state__rule", "state__cluster"
    )
    return Overview(
        firing=[r for r in rows if r.state.phase == AlertState.Phase.FIRING],
        held=[r for r in rows if r.state.phase == AlertState.Phase.PENDING],
        resolved=[r for r in rows if r.state.phase == AlertState.Phase.RESOLVED],
        failing=list(deliveries.filter(delivered_at__isnull=True).exclude(last_error="")),
        deliveries=list(deliveries[:RECENT_DELIVERIES]),
    )
