"""Resets of a share group's start offsets (KIP-932): preview, request, and their steps in the one lifecycle.

The plan is the consumer-group reset's (`planning.resets`) with the start offset where a consumer
group has its committed offset, so it equals `kafka-share-groups --reset-offsets --dry-run` for the
strategies that tool has (earliest, latest, a date-time); an offset is the console's own, clamped
to the log as the tool clamps. Kafka changes start offsets only while the share group has no
members, so an active group is refused at preview, at approval and by the worker, with nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from groups.kafka import (
    TP,
    ClusterClient,
    ConsoleError,
    ShareClient,
    ShareGroupDescription,
    client_for,
    share_client_for,
)
from groups.models import Cluster, Operation
from groups.operations import lifecycle, reset_steps
from groups.operations.active_groups import members_counted
from groups.operations.lifecycle import Review
from groups.operations.plan_review import compare_plans
from groups.planning import inputs
from groups.planning import resets as planning

SHARE_STRATEGIES = {
    "to-earliest": "Earliest (log start)",
    "to-latest": "Latest (log end)",
    "to-datetime": "Date and time",
    "to-offset": "Offset",
}


def active_share_group_message(group: ShareGroupDescription) -> str:
    """Why an active share group's start offsets cannot be reset: its state and who is in it."""
    clients = ", ".join(sorted({m.client_id for m in group.members})) or "none listed"
    return (
        f"Resetting an active share group is refused: '{group.group_id}' is {group.state} with "
        f"{members_counted(len(group.members))} (client ids: {clients}), and Kafka changes the start offsets "
        "of a share group only while it has no members."
    )


@dataclass(frozen=True)
class SharePreview:
    group: ShareGroupDescription
    plan: planning.ResetPlan
    zone_assumed: bool = False

    @property
    def blocked_reason(self) -> str | None:
        """Why the plan cannot be run as it stands, if it cannot."""
        if self.group.is_active:
            return f"{active_share_group_message(self.group)} Stop its share consumers, then preview again."
        if not self.plan.rows:
            return "Nothing to reset: no share-partition is in scope. Choose topics or partitions."
        return None


def share_strategy(kind: str, value: str, undo_of: Operation | None = None) -> tuple[planning.Strategy, bool]:
    """The strategy a choice and its value name, and whether a zone was assumed (forms check values with it too)."""
    if undo_of is not None:
        return planning.Undo(undo_of.before_offsets()), False
    match kind:
        case "to-earliest":
            return planning.ToEarliest(), False
        case "to-latest":
            return planning.ToLatest(), False
        case "to-datetime" | "to-offset" if not value.strip():
            raise planning.PlanningError(f"The strategy '{kind}' needs a value.")
        case "to-datetime":
            timestamp_ms, zone_assumed = inputs.parse_datetime(value.strip())
            return planning.ToDatetime(timestamp_ms), zone_assumed
        case "to-offset":
            return planning.ToOffset(inputs.whole_number(value, "The offset")), False
    raise planning.PlanningError(f"Unknown strategy '{kind}'. Choose one of: {', '.join(SHARE_STRATEGIES)}.")


def preview_share_reset(
    share: ShareClient,
    client: ClusterClient,
    group_id: str,
    kind: str,
    value: str = "",
    scope_text: str = "",
    *,
    undo_of: Operation | None = None,
    now: datetime | None = None,
) -> SharePreview:
    """Read the share group's facts once and compute the exact per-partition plan; nothing is written.

    "All topics" means every share-partition the group has state for, as the tool's --all-topics.
    Raises PlanningError for input the operator must correct and ConsoleError for Kafka failures.
    """
    now = now or timezone.now()
    state = share.read(group_id)
    start = {offset.tp: offset.start_offset for offset in state.offsets}
    strategy, zone_assumed = share_strategy(kind, value, undo_of)
    if isinstance(strategy, planning.Undo):
        scope = planning.Scope(partitions=frozenset(strategy.before))
    else:
        scope = planning.parse_scope(scope_text) if scope_text.strip() else planning.ALL_TOPICS
    try:
        plan = reset_steps.plan_against_log(client, strategy, scope, start, start, now)
    except planning.PlanningError as exc:
        raise planning.PlanningError(share_worded(str(exc))) from None
    plan = replace(plan, warnings=tuple(share_worded(warning) for warning in plan.warnings))
    return SharePreview(group=state.description, plan=plan, zone_assumed=zone_assumed)


# The consumer-group planner's words, as a share group's reset says them: it moves start offsets, nothing commits.
_SHARE_WORDS = (
    ("a commit cannot remove one", "a reset cannot remove one"),
    ("committed offset", "start offset"),
)


def share_worded(text: str) -> str:
    """A planning message or warning (groups.planning.resets) in a share group's words."""
    for consumer_words, share_words in _SHARE_WORDS:
        text = text.replace(consumer_words, share_words)
    return text


def request_share_reset(
    *,
    cluster: Cluster,
    group_id: str,
    plan: list[dict],
    reason: str,
    actor: str,
    requester=None,
    via: str = "web",
    strategy: str = "",
    strategy_value: str = "",
    scope: str = "",
    undo_of: Operation | None = None,
    source_ip: str | None = None,
    dispatch: bool = True,
    preview_nonce: str = "",
) -> Operation:
    """Request a reset of the share group's start offsets to `plan` (see `lifecycle.request`)."""
    return lifecycle.request(
        cluster=cluster,
        kind=Operation.Kind.SHARE_RESET,
        plan=plan,
        reason=reason,
        actor=actor,
        requester=requester,
        via=via,
        source_ip=source_ip,
        dispatch=dispatch,
        preview_nonce=preview_nonce,
        group_id=group_id,
        strategy=strategy,
        strategy_value=strategy_value,
        scope=scope,
        undo_of=undo_of,
    )


class ShareResetRun(lifecycle.Run, kind=Operation.Kind.SHARE_RESET):
    """Under the group's lock: re-check that the share group is inactive and its start offsets are those of
    the preview, set the plan's start offsets, read them back."""

    action = "reset"
    locks_group = True

    def left_behind(self, unexpected: bool) -> str:
        return "Check the share group's start offsets before retrying." if unexpected else ""

    def execute_steps(self, client: ClusterClient) -> None:
        operation = self.operation
        group_id = operation.group_id
        share = share_client_for(operation.cluster)
        group = share.describe(group_id)
        if group.is_active:
            raise ConsoleError(
                f"{active_share_group_message(group)} Nothing was written. "
                "Stop its share consumers, then preview again.",
                code="GROUP_ACTIVE",
            )
        current = {offset.tp: offset.start_offset for offset in share.start_offsets(group_id)}
        drifted = reset_steps.drifted(operation.plan, current)
        if drifted:
            raise ConsoleError(
                "The share group's start offsets changed since the preview (" + "; ".join(drifted) + "). "
                "Nothing was written. Preview again to see the plan against the current start offsets.",
                code="OFFSETS_DRIFTED",
            )
        share.alter_start_offsets(group_id, {TP(r["topic"], r["partition"]): r["after"] for r in operation.plan})
        Operation.objects.filter(pk=operation.pk).update(heartbeat=timezone.now())
        after = {offset.tp: offset.start_offset for offset in share.start_offsets(group_id)}
        outcome, wrong = reset_steps.read_back(operation.plan, after)
        if wrong:
            self.finish(
                Operation.Status.FAILED,
                outcome=outcome,
                error=f"Read-back after the reset does not match the plan for {', '.join(wrong)}: a share consumer "
                "joined and moved them in between. See the per-partition results.",
            )
            return
        self.finish(Operation.Status.SUCCEEDED, outcome=outcome)

    @classmethod
    def review(cls, operation: Operation) -> Review:
        """The same request planned again against the share group now, compared with what was requested."""
        try:
            preview = preview_share_reset(
                share_client_for(operation.cluster),
                client_for(operation.cluster),
                operation.group_id,
                operation.strategy,
                operation.strategy_value,
                operation.scope,
                undo_of=operation.undo_of,
            )
        except planning.PlanningError as exc:
            return Review(error=str(exc))
        except ConsoleError as exc:
            return Review(error=exc.message)
        if preview.group.is_active:
            return Review(error=active_share_group_message(preview.group))
        return Review(checks=compare_plans(operation.plan, preview.plan.rows), offset="start offset")

    @staticmethod
    def reap_stale() -> list[int]:
        """Fail the share resets whose worker vanished; whether the reset applied is for a person to check."""
        stale = lifecycle.stale([Operation.Kind.SHARE_RESET], timedelta(seconds=settings.OPERATION_STALE_AFTER))
        return lifecycle.fail_silent(stale, lambda _: "Check the share group's start offsets before retrying.")
