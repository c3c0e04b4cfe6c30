"""The audit writer every mutating path uses, and the verification of its hash chain."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
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
            return ChainBreak(
                event.id, "its link to the previous event is broken: an event before it was removed or inserted"
            )
        if _digest(_content(event)) != event.hash:
            return ChainBreak(event.id, "its content does not match its hash: it was altered")
        expected_prev = event.hash
    return None


def explain_break(chain_break: ChainBreak) -> ChainBreak:
    """The row to blame for a break `verify_chain` found, and what happened to it.

    `verify_chain` stops at the first row whose link or hash is wrong, which is the row *after*
    an insertion or a removal; the neighbours' links tell an inserted row from a removed one.
    """
    event = AuditEvent.objects.get(pk=chain_break.event_id)
    previous = AuditEvent.objects.filter(id__lt=event.id).order_by("-id").first()
    following = AuditEvent.objects.filter(id__gt=event.id).order_by("id").first()
    expected_prev = previous.hash if previous else GENESIS
    if following is not None and following.prev_hash == expected_prev:
        skipped_to = f"event #{previous.id}" if previous else "the start of the chain"
        return ChainBreak(event.id, f"it was inserted: event #{following.id} after it links past it to {skipped_to}")
    if event.prev_hash == expected_prev:
        return ChainBreak(event.id, "its content does not match its hash: it was altered")
    if event.prev_hash == GENESIS:
        return ChainBreak(
            AuditEvent.objects.earliest("id").id,
            f"it was inserted: event #{event.id} is the first of the chain and links past it",
        )
    linked = AuditEvent.objects.filter(hash=event.prev_hash, id__lt=event.id).first()
    if linked is not None:
        inserted = AuditEvent.objects.filter(id__gt=linked.id, id__lt=event.id).order_by("id")
        count = inserted.count()
        others = f" (and {count - 1} more event{'s' if count > 2 else ''} after it)" if count > 1 else ""
        return ChainBreak(
            inserted.earliest("id").id,
            f"it was inserted{others}: event #{event.id} links past it to event #{linked.id}",
        )
    if previous is None:
        return ChainBreak(event.id, "the events before it were removed: it links to an event that no longer exists")
    if event.id - previous.id > 1:
        missing = f"#{previous.id + 1}" if event.id - previous.id == 2 else f"#{previous.id + 1} to #{event.id - 1}"
        return ChainBreak(
            event.id,
            f"event {missing}, between #{previous.id} and it, was removed: it links to an event that no longer exists",
        )
    return ChainBreak(
        previous.id,
        f"its hash was rewritten: event #{event.id} after it links to a different "
        "hash, so it was altered and re-hashed or replaced",
    )


def hash_matches(event: AuditEvent) -> bool:
    """Whether the event's content is still what its hash was computed over."""
    return _digest(_content(event)) == event.hash


def chain_summary() -> tuple[int, str]:
    """How many events the log holds and the hash of the newest (GENESIS when empty)."""
    last = AuditEvent.objects.order_by("-id").first()
    if last is None:
        return 0, GENESIS
    return AuditEvent.objects.filter(id__lte=last.id).count(), last.hash


def glob_regex(pattern: str, *, classes: bool = True) -> str:
    """A glob as an anchored regex that SQLite (through Django) and PostgreSQL both read.

    `*` is any run of characters and `?` one; with `classes`, `[...]` is one of those characters
    (`!` negates), as fnmatch reads it; without, `[` and `]` are themselves.
    """
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        close = pattern.find("]", i + 2) if char == "[" and classes else -1
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif close != -1:
            members = pattern[i + 1 : close]
            negate = members.startswith("!")
            members = members[1:] if negate else members
            parts.append("[" + ("^" if negate else "") + members.replace("\\", "\\\\") + "]")
            i = close
        else:
            parts.append(re.escape(char))
        i += 1
    return "^" + "".join(parts) + "$"


def source_ip(request: HttpRequest) -> str | None:
    """The address an event records for a request: the client's, or behind a proxy the proxy's."""
    return request.META.get("REMOTE_ADDR")


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def find_events(
    *,
    actor: str = "",
    cluster: str = "",
    group: str = "",
    action: str = "",
    outcome: str = "",
    since: date | None = None,
    until: date | None = None,
    text: str = "",
) -> QuerySet[AuditEvent]:
    """Events matching every given criterion, newest first.

    `group` is an exact group id, or a pattern where `*` stands for any run of characters and `?` for
    one (`[` and `]` match themselves: they are common in group ids and rare in searches); `since` and
    `until` are UTC days, both included; `text` is searched in the reason, ignoring case.
    """
    events = AuditEvent.objects.order_by("-id")
    exact = {"actor": actor, "cluster": cluster, "action": action, "outcome": outcome}
    events = events.filter(**{field: value for field, value in exact.items() if value})
    if group and ("*" in group or "?" in group):
        events = events.filter(group_id__regex=glob_regex(group, classes=False))
    elif group:
        events = events.filter(group_id=group)
    if since is not None:
        events = events.filter(time__gte=_start_of(since))
    # The last representable day has no next day to stop before: it bounds nothing.
    if until is not None and until < date.max:
        events = events.filter(time__lt=_start_of(until + timedelta(days=1)))
    if text:
        events = events.filter(reason__icontains=text)
    return events


def export_fields(event: AuditEvent) -> dict:
    """One event as the exports write it; the plan is left to the caller (JSON has it, CSV does not)."""
    return {
        "id": event.id,
        "time": event.time.astimezone(UTC).isoformat(),
        "actor": event.actor,
        "source_ip": event.source_ip,
        "action": event.action,
        "cluster": event.cluster,
        "group": event.group_id,
        "topics": event.topics,
        "reason": event.reason,
        "outcome": event.outcome,
        "error": event.error,
        "operation_id": event.operation_id,
        "hash": event.hash,
    }
