"""One collection round through every enabled rule: the entry point the collector calls."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from groups.access import pattern_matches
from groups.alerting import delivery, machine, payloads
from groups.alerting.facts import GroupFacts
from groups.alerting.mutes import Mute, mutes_for
from groups.alerting.rules import conditions_of
from groups.models import AlertDelivery, AlertEpisode, AlertRule, AlertState, Cluster

logger = logging.getLogger(__name__)

_TRACKED = ("pending_since", "firing_since", "clear_since", "resolved_at", "last_notified", "notifications")
_NOT_COVERED = machine.Verdict(breaching=False, clear=True, cleared=("the rule no longer covers the group",))
# A disabled rule's open alerts clear as any clearing alert does, so their receivers hear them resolve.
_DISABLED = machine.Verdict(breaching=False, clear=True, cleared=("the rule was disabled",))
# A round this long after the previous one evaluated (at least; else twice the cluster's collection period)
# follows a collection gap: the alerts' clear and pending timers start again (machine.step's `gap`).
GAP_FLOOR_SECONDS = 60


@dataclass
class RoundReport:
    """What one evaluation did, for the collector's log and for tests."""

    rules: int = 0
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (rule id, group id, event)
    muted: int = 0
    deliveries: list[int] = field(default_factory=list)


def tuning() -> machine.Tuning:
    return machine.Tuning(hysteresis=settings.ALERT_HYSTERESIS_PERCENT / 100, clear_s=settings.ALERT_CLEAR_SECONDS)


def _tracker(state: AlertState | None) -> machine.Tracker:
    if state is None:
        return machine.Tracker()
    return machine.Tracker(
        phase=machine.Phase(state.phase),
        pending_since=state.pending_since,
        firing_since=state.firing_since,
        clear_since=state.clear_since,
        resolved_at=state.resolved_at,
        last_notified=state.last_notified,
        notifications=state.notifications,
    )


def gap_bound_seconds(cluster: Cluster) -> float:
    """The longest time between two evaluated rounds that is not a collection gap."""
    return max(2 * cluster.collect_every_seconds, GAP_FLOOR_SECONDS)


def _absolute(path: str) -> str:
    return settings.CONSOLE_URL.rstrip("/") + path


def _body(state: AlertState, rule: AlertRule, event: str, mute: Mute | None, now: datetime) -> dict:
    group_url = _absolute(reverse("group_page", args=[state.cluster.name, state.group_id]))
    since = state.firing_since or state.pending_since
    return payloads.alert_body(
        event=event,
        alert_id=state.pk,
        rule_id=rule.pk,
        rule_name=rule.name,
        cluster=state.cluster.name,
        group=state.group_id,
        summary=state.summary,
        values=state.facts,
        firing_since=state.firing_since,
        resolved_at=state.resolved_at,
        notification=state.notifications,
        mute={"operation_id": mute.operation_id, "until": payloads.iso(mute.until), "text": mute.text}
        if mute
        else None,
        time=now,
        group_url=group_url,
        chart_url=f"{group_url}?range={payloads.chart_range(since, now)}",
        alerts_url=_absolute(reverse("alert_list")),
    )


def _deliveries(
    state: AlertState, rule: AlertRule, event: str, mute: Mute | None, now: datetime
) -> list[AlertDelivery]:
    body = _body(state, rule, event, mute, now)
    # Attempts run on the worker's clock, whatever time the round was read at.
    due = timezone.now()
    rows = []
    if rule.webhook_url:
        rows.append(
            AlertDelivery(
                state=state,
                event=event,
                channel=AlertDelivery.Channel.WEBHOOK,
                target=rule.webhook_url,
                webhook_format=rule.webhook_format,
                payload=body,
                created=now,
                next_attempt=due,
            )
        )
    if rule.emails:
        rows.append(
            AlertDelivery(
                state=state,
                event=event,
                channel=AlertDelivery.Channel.EMAIL,
                target=", ".join(rule.emails),
                payload=body,
                created=now,
                next_attempt=due,
            )
        )
    return rows


class _Round:
    def __init__(self, cluster: Cluster, facts: Sequence[GroupFacts], now: datetime, gap: bool):
        self.cluster, self.now, self.tuning, self.gap = cluster, now, tuning(), gap
        self.facts = {fact.group_id: fact for fact in facts if not fact.never_alerted}
        self.mutes = mutes_for(cluster, list(self.facts.values()), now)
        self.report = RoundReport()
        self.created: list[AlertState] = []
        self.changed: list[tuple[int, dict]] = []
        self.removed: list[int] = []
        self.notify: list[tuple[AlertState, AlertRule, str, Mute | None]] = []
        # Each ended alert, and the state whose notifications it takes (None: it sent none).
        self.ended: list[tuple[AlertEpisode, AlertState | None]] = []

    def run(self, rules: list[AlertRule]) -> None:
        states = AlertState.objects.filter(cluster=self.cluster, rule__in=rules)
        known: dict[int, dict[str, AlertState]] = {}
        for state in states:
            state.cluster = self.cluster
            known.setdefault(state.rule_id, {})[state.group_id] = state
        for rule in rules:
            conditions, mine = conditions_of(rule), known.get(rule.pk, {})
            for group_id, fact in self.facts.items():
                if pattern_matches(rule.group_pattern, group_id):
                    self.step(
                        rule,
                        conditions,
                        mine.get(group_id),
                        group_id,
                        fact,
                        machine.judge(conditions, fact, self.tuning),
                    )
            for group_id, state in mine.items():
                current = self.facts.get(group_id)
                if current is None:
                    self.step(rule, conditions, state, group_id, None, machine.gone())
                elif not pattern_matches(rule.group_pattern, group_id):
                    self.step(rule, conditions, state, group_id, current, _NOT_COVERED)

    def close(self, states: list[AlertState]) -> None:
        """Move the open alerts of disabled rules (`states`, their rules joined) towards resolving: a pending
        one ends now, a firing one resolves, and tells its receivers so, once it stayed clear as any alert must."""
        for state in states:
            state.cluster = self.cluster
            rule = state.rule
            self.step(rule, conditions_of(rule), state, state.group_id, self.facts.get(state.group_id), _DISABLED)

    def step(
        self,
        rule: AlertRule,
        conditions: machine.Conditions,
        state: AlertState | None,
        group_id: str,
        fact: GroupFacts | None,
        verdict: machine.Verdict,
    ) -> None:
        mute = self.mutes.get(group_id)
        before = _tracker(state)
        after, event = machine.step(
            before, verdict, conditions, self.tuning, now=self.now, muted=mute is not None, gap=self.gap
        )
        if mute is not None and verdict.breaching:
            self.report.muted += 1
        ending = machine.ended(before, after, event, now=self.now)
        cleared = ""
        if ending is not None:
            cleared = machine.resolution(verdict, before.clear_since or self.now)
            if ending.firing_since is None:
                cleared = "cleared before it fired: " + cleared
        if after.phase == machine.Phase.IDLE:
            if state is not None:
                self.removed.append(state.pk)
                self.keep(rule, state, ending, mute, fact.as_json() if fact is not None else state.facts, cleared)
            return
        if after.phase == machine.Phase.RESOLVED and after == before:
            return  # a resolved alert keeps the figures it resolved with
        values = {name: getattr(after, name) for name in _TRACKED}
        values["phase"] = after.phase.value
        if before.phase in (machine.Phase.IDLE, machine.Phase.RESOLVED):
            # A new episode: an earlier one's mute is not this one's.
            values["muted_until"], values["muted_by_id"] = None, None
        fired = state.breach_summary if state is not None else ""
        said = machine.summary(before, after, event, verdict, self.tuning, fired=fired, now=self.now)
        if said is not None:
            values["summary"] = said
        if verdict.breaching:
            values["breach_summary"] = said
        if fact is not None:
            # Pending and firing alerts keep their figures current for the alerts page.
            values["facts"] = fact.as_json()
        if mute is not None:
            values["muted_until"], values["muted_by_id"] = mute.until, mute.operation_id
        elif state is not None and state.muted_until is not None and state.muted_until > self.now:
            # Muted while its operation ran, which then wrote nothing (mutes.may_have_written): no mute after all.
            values["muted_until"], values["muted_by_id"] = None, None
        if state is None:
            state = AlertState(rule=rule, cluster=self.cluster, group_id=group_id, updated=self.now, **values)
            self.created.append(state)
        else:
            changes = {name: value for name, value in values.items() if getattr(state, name) != value}
            if not changes:
                return
            changes["updated"] = self.now
            for name, value in changes.items():
                setattr(state, name, value)
            self.changed.append((state.pk, changes))
        self.keep(rule, state, ending, mute, state.facts, cleared)
        if event is not None:
            self.notify.append((state, rule, event.value, mute))
            self.report.events.append((rule.pk, group_id, event.value))

    def keep(
        self,
        rule: AlertRule,
        state: AlertState,
        ending: machine.Ended | None,
        mute: Mute | None,
        figures: dict,
        resolution: str,
    ) -> None:
        """Keep an alert that ended: every one that fired, and one a mute held back until it cleared (nobody
        was told, but the page says what the console's own operation kept quiet)."""
        muted = state.muted_until is not None or mute is not None
        if ending is None or (ending.firing_since is None and not muted):
            return
        episode = AlertEpisode(
            rule=rule,
            rule_name=rule.name,
            cluster=self.cluster,
            group_id=state.group_id,
            pending_since=ending.pending_since,
            firing_since=ending.firing_since,
            resolved_at=ending.resolved_at,
            summary=state.breach_summary or state.summary,
            resolution=resolution,
            facts=figures,
            notifications=ending.notifications,
            muted=muted,
            muted_by_id=mute.operation_id if mute is not None else state.muted_by_id,
        )
        self.ended.append((episode, state if ending.firing_since is not None else None))

    def save(self) -> None:
        AlertState.objects.filter(pk__in=self.removed).delete()
        AlertState.objects.bulk_create(self.created)
        # One small UPDATE per changed row: bulk_update's CASE per column costs seconds at a thousand rows.
        for pk, changes in self.changed:
            AlertState.objects.filter(pk=pk).update(**changes)
        rows = [
            row for state, rule, event, mute in self.notify for row in _deliveries(state, rule, event, mute, self.now)
        ]
        AlertDelivery.objects.bulk_create(rows)
        self.report.deliveries = [row.pk for row in rows]
        AlertEpisode.objects.bulk_create([episode for episode, _ in self.ended])
        for episode, state in self.ended:
            if state is not None:
                AlertDelivery.objects.filter(state=state, episode__isnull=True).update(episode=episode)


def evaluate_round(
    cluster: Cluster,
    facts: Sequence[GroupFacts],
    now: datetime | None = None,
    *,
    previous_round: datetime | None = None,
) -> RoundReport:
    """Move every enabled rule covering `cluster` on by one complete collection round.

    `facts` holds every group the round saw on the cluster (a group missing from it counts as
    deleted, so call this only after a complete, fresh round, never for a stale one); `now` is when
    the round read the cluster. `previous_round` is when the round before it read the cluster (None: not
    known, no gap is assumed); longer ago than `gap_bound_seconds`, the rounds between failed, so no
    alert counts that time as clear or as breaching. Replay checkpoint groups are skipped. Notifications are
    only written as `AlertDelivery` rows and handed to the `notifications` queue after commit: sending never
    delays the caller, and a queue that cannot be reached leaves them to the periodic sweep.
    """
    now = now or timezone.now()
    rules = list(AlertRule.objects.filter(enabled=True).filter(Q(cluster__isnull=True) | Q(cluster=cluster)))
    # The open alerts of rules since disabled: they resolve, so their receivers are not left with them firing.
    disabled = list(
        AlertState.objects.select_related("rule").filter(
            cluster=cluster, rule__enabled=False, phase__in=(AlertState.Phase.PENDING, AlertState.Phase.FIRING)
        )
    )
    gap = previous_round is not None and (now - previous_round).total_seconds() > gap_bound_seconds(cluster)
    this_round = _Round(cluster, facts, now, gap)
    this_round.report.rules = len(rules)
    if not rules and not disabled:
        return this_round.report
    with transaction.atomic():
        this_round.run(rules)
        this_round.close(disabled)
        this_round.save()
        ids = list(this_round.report.deliveries)
        transaction.on_commit(lambda: delivery.enqueue(ids))
    if this_round.report.events:
        logger.info("alerts on %s: %s", cluster.name, this_round.report.events)
    return this_round.report
