"""One registry of audit actions (AuditEvent.Action), which the audit filter offers: every action the code records
is in it, each reads as a sentence on the audit page, and recording any other action is refused."""

import ast
from pathlib import Path

import pytest

from groups import audit
from groups.models import AuditEvent, Operation
from groups.views.describe import ON_OPERATION, EventLabel, event_label

GROUPS = Path(__file__).resolve().parents[2] / "groups"
Action = AuditEvent.Action


# The wrappers that pass the action they are given on to audit.record: (module, function) -> its argument's position.
WRAPPERS = {("admin_audit.py", "_record"): 1, ("approvals.py", "_cancel"): 2}


def _recorded_arguments() -> list[tuple[str, ast.expr]]:
    """Where each call of `audit.record` (or of a wrapper of it) in groups/ stands, and its action argument."""
    found = []
    for path in sorted(GROUPS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            called = ast.unparse(node.func)
            position = 0 if called == "audit.record" else WRAPPERS.get((path.name, called))
            if position is not None:
                found.append((f"{path.relative_to(GROUPS.parent)}:{node.lineno}", node.args[position]))
    return found


def _actions(argument: ast.expr) -> list[str]:
    """The actions an argument can be: a member of the registry named in the code, or a literal."""
    if isinstance(argument, ast.IfExp):
        return _actions(argument.body) + _actions(argument.orelse)
    if isinstance(argument, ast.Constant):
        return [argument.value]
    if isinstance(argument, ast.Attribute) and ast.unparse(argument.value) == "AuditEvent.Action":
        return [getattr(Action, argument.attr).value]
    # A variable: its type (AuditEvent.Action) is what mypy checks, and record() refuses any other value.
    return []


def test_every_action_the_code_records_is_in_the_registry():
    arguments = _recorded_arguments()
    assert len(arguments) >= 25, "the scan lost the recording calls"
    recorded = {action: where for where, argument in arguments for action in _actions(argument)}
    assert {action: where for action, where in recorded.items() if action not in Action.values} == {}
    # The calls name every action but the final statuses, which a run records as its operation's new status.
    assert set(Action.values) - set(recorded) <= set(Operation.FINAL)


def test_every_final_status_a_run_finishes_with_is_an_action():
    # lifecycle.Run.finish records the operation's new status as its action.
    assert set(Operation.FINAL) <= set(Action.values)


def test_the_sentences_of_operation_events_are_of_registered_actions():
    assert set(ON_OPERATION) <= set(Action.values)


def test_recording_an_action_outside_the_registry_is_refused_before_anything_is_written():
    with pytest.raises(ValueError, match="'offsets_reset' is not a valid"):
        audit.record("offsets_reset", actor="alice")


def _label(action: str, operation: Operation | None = None, error: str = "") -> EventLabel:
    return event_label(AuditEvent(action=action, actor="alice", operation=operation, error=error))


def test_every_action_reads_as_what_its_actor_did_and_no_two_alike():
    sentences = {action: _label(action).sentence for action in Action}
    assert all(words and words[0].islower() for words in sentences.values()), sentences  # after the actor's name
    assert len(set(sentences.values())) == len(Action), sentences


def test_an_event_of_an_operation_names_the_request_between_its_verb_and_its_ending():
    reset = Operation(pk=7, kind=Operation.Kind.RESET, strategy="to-earliest", scope="orders:0")
    assert _label("approved", reset) == EventLabel("approved", "Reset to-earliest", "", "orders:0")
    assert _label("expired", reset).sentence == "let Reset to-earliest expire: no one decided in time"
    refused = _label("denied", reset, error="You requested operation #7: another approver must decide.")
    assert refused.sentence == "tried to act on Reset to-earliest"
    assert refused.scope == "You requested operation #7: another approver must decide."


def test_a_refusal_outside_an_operation_says_what_was_refused():
    label = _label("denied", error="You may not reset offsets of group 'payments' on cluster 'prod'.")
    assert label.sentence == "asked for something not granted"
    assert label.scope == "You may not reset offsets of group 'payments' on cluster 'prod'."


def test_an_action_an_older_version_recorded_reads_as_its_recorded_value():
    assert _label("offsets_reset").sentence == "offsets reset"
