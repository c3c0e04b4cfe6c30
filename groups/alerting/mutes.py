"""Which groups the console's own operations mute: a reset, undo, deletion (of a group or of its offsets) or
replay moves lag on purpose, so the rules on the groups it touched keep quiet while it runs and for a window
after. Only one that may have changed something mutes: an operation refused or failed before it wrote
(an active group, drifted offsets, a withdrawn right, the group's lock held) leaves the group's lag as it
was, and an alert on it is real."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from groups.alerting.facts import GroupFacts
from groups.models import Cluster, Operation

MUTING_KINDS = (
    *Operation.RESET_KINDS,
    Operation.Kind.DELETE_GROUP,
    Operation.Kind.DELETE_OFFSETS,
    Operation.Kind.REPLAY,
    Operation.Kind.SHARE_DELETE,
)


# What an operation's error says when it failed before writing anything (groups.operations and its runs).
_NOTHING_WRITTEN = (
    "nothing was written",
    "nothing was changed",
    "changed nothing",
    "nothing was deleted",
    "nothing was copied",
    "was not applied",
)


def may_have_written(operation: Operation) -> bool:
    """Whether the operation may have changed the group's offsets (or a replay's target): running or succeeded,
    or failed or cancelled with per-partition results read back after writing, or without an error that says
    it wrote nothing (not known then, so counted as written)."""
    if operation.status not in (Operation.Status.FAILED, Operation.Status.CANCELLED):
        return True
    if operation.outcome:
        return True
    error = operation.error.lower()
    return not any(words in error for words in _NOTHING_WRITTEN)


@dataclass(frozen=True)
class Mute:
    operation_id: int
    until: datetime
    text: str  # what the alert page and the notification say, e.g. "offset reset by operation #42 (alice)"


def mute_window() -> timedelta:
    return timedelta(minutes=settings.ALERT_MUTE_MINUTES)


def describe(operation: Operation) -> str:
    """The operation as a mute names it: "offset reset by operation #42 (alice)", or, for one that failed (or was
    cancelled) after it had written, "offset reset that failed after writing, operation #42 (alice)"."""
    who = operation.requester.username if operation.requester is not None else operation.requested_via
    if operation.kind == Operation.Kind.REPLAY:
        what = f"replay into {_replay_target(operation)}"
    elif operation.undo_of_id:
        what = f"undo of operation #{operation.undo_of_id}"
    else:
        what = operation.get_kind_display().lower()
    if operation.status == Operation.Status.FAILED:
        return f"{what} that failed after writing, operation #{operation.pk} ({who})"
    if operation.status == Operation.Status.CANCELLED:
        return f"{what} cancelled after writing, operation #{operation.pk} ({who})"
    return f"{what} by operation #{operation.pk} ({who})"


def _replay_target(operation: Operation) -> str:
    replay = getattr(operation, "replay", None)
    return replay.target_topic if replay is not None else ""


def _touched(operation: Operation, facts: Iterable[GroupFacts]) -> list[str]:
    """The groups whose lag the operation moves: its own group, or the readers of a replay's target topic."""
    if operation.kind != Operation.Kind.REPLAY:
        return [operation.group_id]
    target = _replay_target(operation)
    return [fact.group_id for fact in facts if target and target in fact.topics]


def mutes_for(cluster: Cluster, facts: list[GroupFacts], now: datetime) -> dict[str, Mute]:
    """Group id -> the mute in force at `now`: an operation that ran on it, may have written (`may_have_written`)
    and is running or finished less than ALERT_MUTE_MINUTES ago. One query, whatever the number of groups."""
    window = mute_window()
    operations = (
        Operation.objects.filter(cluster=cluster, kind__in=MUTING_KINDS, started__isnull=False)
        .filter(Q(finished__isnull=True) | Q(finished__gte=now - window))
        .select_related("requester", "replay")
        .order_by("started", "pk")
    )
    mutes: dict[str, Mute] = {}
    for operation in operations:
        if not may_have_written(operation):
            continue
        # A running operation keeps muting: the window starts only once it has finished.
        until = (operation.finished or now) + window
        mute = Mute(operation.pk, until, describe(operation))
        for group_id in _touched(operation, facts):
            if group_id not in mutes or mutes[group_id].until <= until:
                mutes[group_id] = mute
    return mutes
