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

Action = AuditEvent.Action

# Signing in and out: frequent, and rarely what a review of changes looks for, so lists hide them by default.
SIGN_IN_ACTIONS = (Action.LOGIN.value, Action.LOGIN_FAILED.value, Action.LOGOUT.value)
# Values longer than this are cut in a summary (a reset file's whole text is a strategy value); a refusal
# is the whole story of its event, so more of it is kept.
VALUE_SHOWN = 60
REFUSAL_SHOWN = 200
# Internal topic names repeat their application's id, so a few of them take more room.
TOPICS_SHOWN = 160

# How an event of an operation reads after its actor's name: the words before the operation's summary and
# after it ("alice approved Reset to-earliest", "console let Delete group expire: ...").
ON_OPERATION: dict[str, tuple[str, str]] = {
    Action.REQUESTED: ("requested", ""),
    Action.UNDO_REQUESTED: ("requested", ""),
    Action.APPROVED: ("approved", ""),
    Action.REJECTED: ("rejected", ""),
    Action.CANCELLED: ("cancelled", ""),
    Action.CANCEL_REQUESTED: ("asked the worker to stop", ""),
    Action.EXPIRED: ("let", " expire: no one decided in time"),
    Action.STARTED: ("started", ""),
    Action.RESUMED: ("resumed", ""),
    Action.SUCCEEDED: ("finished", ""),
    Action.FAILED: ("finished", ""),
    Action.DENIED: ("tried to act on", ""),
    Action.INTERNAL_TOPICS_DELETED: ("deleted the internal topics of", ""),
}
# Every action the console records, by what its actor did: the audit filter's choices and the values it takes.
ACTION_NAMES = dict(Action.choices)


@dataclass(frozen=True)
class EventLabel:
    """What an audit event records, as the rest of a sentence its actor starts: what they did (`before`), to
    which operation (`what`, empty for an event of none) and any words after it; then the detail (`scope`):
    over what the operation acts, or what a refusal refused."""

    before: str
    what: str = ""
    after: str = ""
    scope: str = ""

    @property
    def sentence(self) -> str:
        return " ".join(part for part in (self.before, self.what) if part) + self.after


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


def _lower_first(words: str) -> str:
    return words[:1].lower() + words[1:]


def event_label(event: AuditEvent) -> EventLabel:
    """The event in words, after its actor's name; an event of an operation names the operation's request."""
    operation = event.operation
    # A refusal says itself what was refused: its message is the detail, rather than the operation's scope.
    refusal = _cut(event.error, REFUSAL_SHOWN) if event.action == Action.DENIED else ""
    if operation is not None and event.action in ON_OPERATION:
        before, after = ON_OPERATION[event.action]
        return EventLabel(before, operation_summary(operation), after, refusal or operation_scope(operation))
    # An action an older version recorded and this one no longer names reads as its recorded value.
    words = ACTION_NAMES.get(event.action, event.action.replace("_", " "))
    return EventLabel(_lower_first(words), scope=refusal)
