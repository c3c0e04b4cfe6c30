"""Operations and audit events in words, for the audit log and the requests pages: what was asked
(a reset with its strategy, an undo, a deletion, a replay, a decision, a sign-in), how far it got, and
over what scope.

An event of an operation is described through its operation, so `operation` (and, for a replay,
`operation__replay`) should come with the event (select_related) when many are listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist

from groups.models import AuditEvent, Operation
from groups.planning.time_text import format_time_ms

# Signing in and out: frequent, and rarely what a review of changes looks for, so lists hide them by default.
SIGN_IN_ACTIONS = ("login", "login_failed", "logout")
# Values longer than this are cut in a summary (a reset file's whole text is a strategy value); a refusal
# is the whole story of its event, so more of it is kept.
VALUE_SHOWN = 60
REFUSAL_SHOWN = 200
# Internal topic names repeat their application's id, so a few of them take more room.
TOPICS_SHOWN = 160

# An operation's events: how the request is named in each ("{}" is the operation), and the step it records.
_OPERATION_STEPS = {
    "requested": ("{}", "requested"),
    "undo_requested": ("{}", "requested"),
    "approved": ("Approve: {}", ""),
    "rejected": ("Reject: {}", ""),
    "cancelled": ("Cancel: {}", ""),
    "cancel_requested": ("Cancel: {}", "stop asked of the worker"),
    "expired": ("{}", "expired without a decision"),
    "started": ("{}", "started by a worker"),
    "resumed": ("{}", "resumed by a worker"),
    "succeeded": ("{}", "finished"),
    "failed": ("{}", "finished"),
    "denied": ("{}", "refused"),
    "internal_topics_deleted": ("{}", "internal topics deleted"),
}
# Events of no operation.
_ACTIONS = {
    "login": "Sign-in",
    "login_failed": "Sign-in failed",
    "logout": "Sign-out",
    "password_changed": "Password changed",
    "api_token_created": "API token created",
    "api_token_revoked": "API token revoked",
    "alert_rule_created": "Alert rule created",
    "alert_rule_changed": "Alert rule changed",
    "alert_rule_deleted": "Alert rule deleted",
    "admin_added": "Added in Django admin",
    "admin_changed": "Changed in Django admin",
    "admin_deleted": "Deleted in Django admin",
    "denied": "Refused",
    "read_records": "Read records",
}
# Every action the console records, named as the audit list shows it: the audit filter's choices, and the
# values it takes (an event of an operation reads "<the request> · <step>" in the list; here, its step).
ACTION_NAMES = {
    **_ACTIONS,
    "requested": "Requested",
    "undo_requested": "Undo requested",
    "approved": "Approve",
    "rejected": "Reject",
    "cancelled": "Cancel",
    "cancel_requested": "Cancel: stop asked of the worker",
    "expired": "Expired without a decision",
    "started": "Started by a worker",
    "resumed": "Resumed by a worker",
    "succeeded": "Finished: succeeded",
    "failed": "Finished: failed",
    "internal_topics_deleted": "Internal topics deleted",
}


@dataclass(frozen=True)
class EventLabel:
    """What an audit event records, in words: the request (`what`), where it stands (`step`), over what (`scope`)."""

    what: str
    step: str = ""
    scope: str = ""


def _cut(value: str, limit: int = VALUE_SHOWN) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _replay(operation: Operation):
    try:
        return operation.replay
    except ObjectDoesNotExist:
        return None


def operation_summary(operation: Operation) -> str:
    """What the operation asks for in a few words: 'Reset to-earliest', 'Reset start offsets to-latest' (a share
    group's), 'Undo of #12', 'Delete group', 'Replay orders → orders-retry'."""
    if operation.kind in (Operation.Kind.DELETE_GROUP, Operation.Kind.SHARE_DELETE):
        return operation.get_kind_display()
    if operation.kind == Operation.Kind.REPLAY:
        replay = _replay(operation)
        return f"Replay {replay.topic} → {replay.target_topic}" if replay else "Replay"
    if operation.undo_of_id:
        return f"Undo of #{operation.undo_of_id}"
    value = operation.strategy_value if operation.strategy not in ("", "from-file") else ""
    # A share group has no committed offsets: its reset moves where delivery starts, as its operation page says.
    what = "Reset start offsets" if operation.kind == Operation.Kind.SHARE_RESET else "Reset"
    return " ".join(part for part in (what, operation.strategy, _cut(value)) if part)


def operation_scope(operation: Operation) -> str:
    """Over what the operation acts: topics and partitions of a reset, a replay's partitions and range; and the
    internal topics a streams group's reset or deletion deletes."""
    scope = _scope(operation)
    if not operation.internal_topics:
        return scope
    names = ", ".join(row["topic"] for row in operation.internal_topics)
    return f"{scope}; then deletes internal topics {_cut(names, TOPICS_SHOWN)}"


def _scope(operation: Operation) -> str:
    if operation.kind in (Operation.Kind.DELETE_GROUP, Operation.Kind.SHARE_DELETE):
        return "the whole group"
    if operation.kind == Operation.Kind.REPLAY:
        replay = _replay(operation)
        if replay is None:
            return ""
        if replay.offsets:
            # Stored as JSON, whose keys are text: sorted as the partition numbers they are.
            ranges = sorted((int(p), start, end) for p, (start, end) in replay.offsets.items())
            return "offsets " + _cut(", ".join(f"{p}:{start}-{end}" for p, start, end in ranges))
        partitions = "partitions " + ", ".join(map(str, replay.partitions)) if replay.partitions else "every partition"
        since, until = (format_time_ms(ms, sep=" ") for ms in (replay.time_from_ms, replay.time_to_ms))
        return f"{partitions}, {since} to {until}"
    if operation.undo_of_id:
        return f"the partitions #{operation.undo_of_id} changed"
    if operation.strategy == "from-file":
        return "the partitions the file names"
    if operation.scope:
        return _cut(operation.scope)
    if operation.kind == Operation.Kind.SHARE_RESET:
        return "every share-partition with a start offset"
    return "all topics with committed offsets"


def event_label(event: AuditEvent) -> EventLabel:
    """The event in words; an event of an operation names the operation's request."""
    operation = event.operation
    if operation is not None and event.action in _OPERATION_STEPS:
        what, step = _OPERATION_STEPS[event.action]
        return EventLabel(what.format(operation_summary(operation)), step, operation_scope(operation))
    what = _ACTIONS.get(event.action, event.action.replace("_", " ").capitalize())
    # A refusal outside any operation says itself what was refused.
    scope = _cut(event.error, REFUSAL_SHOWN) if event.action == "denied" else ""
    return EventLabel(what, scope=scope)
