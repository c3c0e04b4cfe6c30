"""The alert state machine for one rule and one group: pure, no Django, no I/O.

Each round, `judge` weighs the group's figures against the rule's conditions and `step` moves the
(rule, group) tracker on:

    idle/resolved --breaching--> pending --breaching for `for_s`, not muted--> firing (notify)
    pending --not breaching--> idle/resolved (nobody was told, nobody is told)
    firing --still firing, `renotify_s` since the last notification, not muted--> firing (notify again)
    firing --every condition clear for `clear_s`--> resolved (notify)

A round that follows a collection gap (no evaluated round for longer than the caller's bound: `gap`) does
not count the gap: what the group did while nobody could read it is unknown, not clear and not breaching.
So the clear timer of a firing alert and the duration of a pending one start again at that round.

Hysteresis keeps a value hovering at a threshold from flapping: a numeric condition breaches
above its threshold but counts as clear only below threshold × (1 − margin) (above threshold ×
(1 + margin) for the retention margin, which alerts when low), and a firing alert resolves only
once every condition has stayed clear for `clear_s` without a break. A value in the band between
neither fires nor clears, and a firing alert stays firing, told once.

A mute (the console's own reset, undo or replay on the group) holds back firing and re-notifying;
it never holds back a resolve, so an alert that was told is always closed.

Each pass from breaching to resolved (or back to idle) is one episode: a new one starts counting its
notifications from zero, and `ended` says what is kept of one once it is over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from groups.alerting.facts import GroupFacts
from groups.chart_scales import duration_text


class Phase(StrEnum):
    IDLE = "idle"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Event(StrEnum):
    FIRING = "firing"
    RENOTIFY = "renotify"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Conditions:
    """A rule's conditions (any one breaching fires) and its timings, in seconds."""

    statuses: frozenset[str] = frozenset()
    lag_seconds_over: float | None = None
    total_lag_over: int | None = None
    retention_margin_under_s: float | None = None
    no_members: bool = False
    for_s: float = 0
    renotify_s: float = 0  # 0: never notify again while firing


@dataclass(frozen=True)
class Tuning:
    """How far a value must fall back (a fraction of the threshold) and for how long, to resolve."""

    hysteresis: float = 0.1
    clear_s: float = 120


@dataclass(frozen=True)
class Verdict:
    """How one round's figures stand: breaching (any condition), clear (every one), or neither.

    `reasons` say what breaches; `held` what is back within the threshold but not yet clear of it
    (the hysteresis band), which keeps a firing alert firing; `cleared` what is clear, with its value
    now (what a clearing or resolved alert says)."""

    breaching: bool
    clear: bool
    reasons: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    cleared: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tracker:
    """Where one rule stands for one group, carried from round to round."""

    phase: Phase = Phase.IDLE
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    clear_since: datetime | None = None
    resolved_at: datetime | None = None
    last_notified: datetime | None = None
    notifications: int = 0


@dataclass(frozen=True)
class Ended:
    """An episode that a round ended, as it is kept."""

    pending_since: datetime | None
    firing_since: datetime | None  # None: it never fired (nobody was told)
    resolved_at: datetime
    notifications: int  # firing, each still-firing one, and the resolve


_BREACH, _CLEAR, _HOLD = "breach", "clear", "hold"
_CAUSES_NAMED = 3  # partitions a status reason names; the alert's values list them all


def _over(value: float | None, threshold: float, margin: float) -> str:
    if value is None:
        return _HOLD
    if value > threshold:
        return _BREACH
    return _CLEAR if value <= threshold - threshold * margin else _HOLD


def _under(value: float, threshold: float, margin: float) -> str:
    if value < threshold:
        return _BREACH
    return _CLEAR if value >= threshold + threshold * margin else _HOLD


def _status_check(wanted: frozenset[str], facts: GroupFacts) -> tuple[str, str, str]:
    """The group's status, or a partition's that made it: STOP, STALL, REWIND and AHEAD are partition
    statuses, which make their group ERR (Burrow's rules), so a rule on them looks at the partitions."""
    names = ", ".join(sorted(wanted))
    # What it says once clear: with partition statuses behind the group's, that none of them is wanted.
    cleared = f"status now {facts.status}, " + (
        f"no partition {names}" if facts.partition_statuses else f"none of {names}"
    )
    if facts.status in wanted:
        return _BREACH, f"status {facts.status} is one of {names}", cleared
    causes = [p for p in facts.partition_statuses if p.status in wanted]
    if not causes:
        return _CLEAR, f"status {facts.status} is one of {names}", cleared
    shown = ", ".join(f"{p.topic}:{p.partition} {p.status}" for p in causes[:_CAUSES_NAMED])
    more = f" and {len(causes) - _CAUSES_NAMED} more" if len(causes) > _CAUSES_NAMED else ""
    return _BREACH, f"status {facts.status} with partition {shown}{more}, one of {names}", cleared


def _count(count: float) -> str:
    return f"{count:,.0f}"


def _clear_bound(bound: str, threshold: str, margin: float, word: str) -> str:
    """How far a value must be to count as clear, e.g. "1,350 (the rule's 1,500 less 10% hysteresis)"."""
    return f"{bound} (the rule's {threshold} {word} {margin:.0%} hysteresis)" if margin else bound


def _over_check(
    name: str,
    label: str,
    unknown: str,
    value: float | None,
    threshold: float,
    margin: float,
    text: Callable[[float], str],
) -> tuple[str, str, str]:
    """An "over the threshold" condition's state, its reason in words (`name` of the value, written by `text`,
    or `unknown` when the round could not tell it), and what it says once clear (`label` of the value)."""
    state = _over(value, threshold, margin)
    if value is None:
        return state, f"{unknown} cannot be told this round", ""
    cleared = (
        f"{label} back to {text(value)}, at or under "
        f"{_clear_bound(text(threshold * (1 - margin)), text(threshold), margin, 'less')}"
    )
    if state != _HOLD:
        # 20.4 s over 20 s reads "20s" both: say it is just over rather than "20s is over 20s".
        over = "is just over" if text(value) == text(threshold) else "is over"
        return state, f"{name.format(text(value))} {over} {text(threshold)}", cleared
    return (
        state,
        (
            f"{name.format(text(value))} is back to {text(threshold)} or under, not yet to "
            f"{text(threshold * (1 - margin))} ({margin:.0%} hysteresis)"
        ),
        cleared,
    )


def judge(conditions: Conditions, facts: GroupFacts, tuning: Tuning) -> Verdict:
    """Weigh one round's figures of a group against a rule's conditions."""
    margin = tuning.hysteresis
    checks: list[tuple[str, str, str]] = []
    if conditions.statuses:
        checks.append(_status_check(conditions.statuses, facts))
    if conditions.lag_seconds_over is not None:
        checks.append(
            _over_check(
                "lag of {}",
                "lag",
                "the lag in seconds",
                facts.lag_seconds,
                conditions.lag_seconds_over,
                margin,
                duration_text,
            )
        )
    if conditions.total_lag_over is not None:
        checks.append(
            _over_check(
                "total lag of {} messages",
                "total lag",
                "the total lag",
                facts.lag,
                conditions.total_lag_over,
                margin,
                _count,
            )
        )
    if conditions.retention_margin_under_s is not None:
        threshold = conditions.retention_margin_under_s
        value = facts.retention_margin_s
        # None: no finite margin (retention is not catching up with the group), so nothing at risk.
        state = _CLEAR if value is None else _under(value, threshold, margin)
        if value is not None and value <= 0:
            reason = (
                "unread records are past retention: already deleted, or deleted at the broker's next retention check"
            )
        elif state == _HOLD:
            reason = (
                f"retention margin of {duration_text(value or 0)} is back to {duration_text(threshold)} or over, "
                f"not yet to {duration_text(threshold * (1 + margin))} ({margin:.0%} hysteresis)"
            )
        else:
            reason = f"retention margin of {duration_text(value or 0)} is under {duration_text(threshold)}"
        if value is None:
            cleared = "no retention margin at risk: retention is not catching up with the group"
        else:
            bound = _clear_bound(duration_text(threshold * (1 + margin)), duration_text(threshold), margin, "plus")
            cleared = f"retention margin back to {duration_text(value)}, at or over {bound}"
        checks.append((state, reason, cleared))
    if conditions.no_members:
        members = f"the group has {facts.members} member{'s' if facts.members != 1 else ''} again"
        checks.append((_BREACH if facts.members == 0 else _CLEAR, "the group has no members", members))
    states = [state for state, _, _ in checks]
    return Verdict(
        breaching=_BREACH in states,
        clear=all(state == _CLEAR for state in states),
        reasons=tuple(reason for state, reason, _ in checks if state == _BREACH),
        held=tuple(reason for state, reason, _ in checks if state == _HOLD),
        cleared=tuple(cleared for state, _, cleared in checks if state == _CLEAR),
    )


def gone() -> Verdict:
    """The verdict for a group missing from a complete round: it was deleted, so nothing is wrong with it."""
    return Verdict(breaching=False, clear=True, cleared=("the group no longer exists",))


def _elapsed(since: datetime | None, now: datetime) -> float:
    return (now - since).total_seconds() if since is not None else 0.0


def step(
    tracker: Tracker,
    verdict: Verdict,
    conditions: Conditions,
    tuning: Tuning,
    *,
    now: datetime,
    muted: bool,
    gap: bool = False,
) -> tuple[Tracker, Event | None]:
    """The tracker after one round, and the notification that round owes (None: nothing to tell).

    `gap`: no round was evaluated for too long before this one, so the time since the last one counts
    neither as clear nor as breaching: the clear timer and the pending duration start again now."""
    if gap and tracker.phase == Phase.PENDING and verdict.breaching:
        tracker = replace(tracker, pending_since=now)
    if gap and tracker.clear_since is not None:
        tracker = replace(tracker, clear_since=None)
    if tracker.phase in (Phase.IDLE, Phase.RESOLVED):
        if not verdict.breaching:
            return tracker, None
        # A new episode: the last one's notifications are not this one's.
        tracker = replace(tracker, phase=Phase.PENDING, pending_since=now, last_notified=None, notifications=0)

    if tracker.phase == Phase.PENDING:
        if not verdict.breaching:
            idle = Phase.RESOLVED if tracker.resolved_at is not None else Phase.IDLE
            return replace(tracker, phase=idle, pending_since=None), None
        if muted or _elapsed(tracker.pending_since, now) < conditions.for_s:
            return tracker, None
        return replace(
            tracker,
            phase=Phase.FIRING,
            firing_since=now,
            clear_since=None,
            resolved_at=None,
            last_notified=now,
            notifications=1,
        ), Event.FIRING

    # Firing.
    if verdict.clear:
        clear_since = tracker.clear_since or now
        if _elapsed(clear_since, now) < tuning.clear_s:
            return replace(tracker, clear_since=clear_since), None
        return replace(
            tracker, phase=Phase.RESOLVED, pending_since=None, clear_since=None, resolved_at=now, last_notified=now
        ), Event.RESOLVED
    tracker = replace(tracker, clear_since=None)
    if muted or conditions.renotify_s <= 0 or _elapsed(tracker.last_notified, now) < conditions.renotify_s:
        return tracker, None
    return replace(tracker, last_notified=now, notifications=tracker.notifications + 1), Event.RENOTIFY


def ended(before: Tracker, after: Tracker, event: Event | None, *, now: datetime) -> Ended | None:
    """The episode a round ended, if it ended one: a resolve, or a pending alert whose condition cleared
    before it fired."""
    if event == Event.RESOLVED:
        return Ended(before.pending_since, before.firing_since, now, after.notifications + 1)
    if before.phase == Phase.PENDING and after.phase in (Phase.IDLE, Phase.RESOLVED):
        return Ended(before.pending_since, None, now, 0)
    return None


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC")


def resolution(verdict: Verdict, clear_since: datetime) -> str:
    """How an alert cleared, with the values of the round that ended it, e.g. "total lag back to 37, at or under
    1,350 (the rule's 1,500 less 10% hysteresis), clear since 10:39:58 UTC"."""
    return f"{'; '.join(verdict.cleared) or 'every condition clear'}, clear since {_clock(clear_since)}"


def summary(
    before: Tracker, after: Tracker, event: Event | None, verdict: Verdict, tuning: Tuning, *, fired: str, now: datetime
) -> str | None:
    """What the alert says after a round (the alerts page's "Why", the notification's summary); None: it keeps
    what it said. `fired` is why it fired: the reasons of the last round it breached.

    Breaching, it says why; in the hysteresis band, why it still fires; clear but not yet resolved, the values
    now and when it resolves if they stay clear; resolved, how it cleared and why it had fired."""
    if verdict.breaching:
        return "; ".join(verdict.reasons)
    if event == Event.RESOLVED:
        # clear_s 0 resolves in the round that cleared, which is then its clear_since.
        cleared = resolution(verdict, before.clear_since or now)
        return f"resolved: {cleared}; it fired on: {fired}" if fired else f"resolved: {cleared}"
    if after.phase != Phase.FIRING:
        return None
    if verdict.held:
        # Neither breaching nor clear: say why it still fires, rather than the breach of an earlier round.
        return "still firing: " + "; ".join(verdict.held)
    if after.clear_since is not None:
        resolves_at = after.clear_since + timedelta(seconds=tuning.clear_s)
        return f"{resolution(verdict, after.clear_since)}; resolves at {_clock(resolves_at)} if it stays clear"
    return None
