"""The audit writer every mutating path uses, and the verification of its hash chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from groups.models import AuditEvent, Operation

GENESIS = "0" * 64


def _digest(fields: dict) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _content(event: AuditEvent) -> dict:
    return {
        "time": event.time.isoformat(),
        "actor": event.actor,
        "source_ip": event.source_ip,
        "action": event.action,
        "cluster": event.cluster,
        "group_id": event.group_id,
        "topics": event.topics,
        "reason": event.reason,
        "plan": event.plan,
        "operation": event.operation_id,
        "outcome": event.outcome,
        "error": event.error,
        "prev_hash": event.prev_hash,
    }


def record(
    action: str,
    *,
    actor: str,
    operation: Operation | None = None,
    cluster: str = "",
    group_id: str = "",
    reason: str = "",
    plan: list | None = None,
    outcome: str = "",
    error: str = "",
    source_ip: str | None = None,
) -> AuditEvent:
    """Append one event, chained to the previous one. Operation fields fill in what is not given."""
    if operation is not None:
        cluster = cluster or operation.cluster.name
        group_id = group_id or operation.group_id
        reason = reason or operation.reason
        plan = operation.plan if plan is None else plan
    plan = plan or []
    with transaction.atomic():
        last = AuditEvent.objects.select_for_update().order_by("-id").first()
        event = AuditEvent(
            time=timezone.now(),
            actor=actor,
            source_ip=source_ip,
            action=action,
            cluster=cluster,
            group_id=group_id,
            topics=sorted({row["topic"] for row in plan}),
            reason=reason,
            plan=plan,
            operation=operation,
            outcome=outcome,
            error=error,
            prev_hash=last.hash if last else GENESIS,
        )
        event.hash = _digest(_content(event))
        event.save()
    return event


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


def verify_chain() -> ChainBreak | None:
    """The first event whose content or link does not match, or None when the chain is intact."""
    expected_prev = GENESIS
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            return ChainBreak(event.id, "its link to the previous event is broken: an event before it was removed or inserted")
        if _digest(_content(event)) != event.hash:
            return ChainBreak(event.id, "its content does not match its hash: it was altered")
        expected_prev = event.hash
    return None
