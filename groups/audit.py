"""The audit writer every mutating path uses, and the keyed hashes of its chain.

Each event's hash covers its content and the previous event's hash. It is an HMAC-SHA256 keyed with the
newest of settings.AUDIT_HMAC_KEYS, whose id the event records, so rewriting the database cannot forge
an event. Events written before keys existed carry the key id "" and a plain SHA-256 (LEGACY_KEY_ID).
Verification is in audit_verification; signed checkpoints of the head in audit_checkpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from groups.models import AuditEvent, Operation
from groups.patterns import glob_regex

GENESIS = "0" * 64
LEGACY_KEY_ID = ""


class UnknownKey(LookupError):
    """Something names an audit key id that settings.AUDIT_HMAC_KEYS does not hold."""


def current_key_id() -> str:
    """The id of the key new events and checkpoints are signed with: the last one configured."""
    return next(reversed(settings.AUDIT_HMAC_KEYS))


def key_known(key_id: str) -> bool:
    return key_id == LEGACY_KEY_ID or key_id in settings.AUDIT_HMAC_KEYS


def _digest(fields: dict) -> str:
    """HMAC-SHA256 of fields with the key fields["key_id"] names; plain SHA-256 without a key id."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()
    key_id = fields.get("key_id", LEGACY_KEY_ID)
    if key_id == LEGACY_KEY_ID:
        return hashlib.sha256(canonical).hexdigest()
    try:
        secret = settings.AUDIT_HMAC_KEYS[key_id]
    except KeyError:
        raise UnknownKey(key_id) from None
    return hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()


def sign(fields: dict) -> tuple[str, str]:
    """(key id, signature) of fields with the current key, for records kept outside the database."""
    key_id = current_key_id()
    return key_id, _digest({**fields, "key_id": key_id})


def signature_matches(fields: dict, key_id: str, signature: str) -> bool:
    """Whether signature is what `sign` made of fields with key_id. Raises UnknownKey for a key not configured."""
    if key_id == LEGACY_KEY_ID:
        return False  # nothing outside the database was ever signed without a key
    return hmac.compare_digest(_digest({**fields, "key_id": key_id}), signature)


def _content(event: AuditEvent) -> dict:
    content = {
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
    # Legacy events were hashed over exactly the fields above; a keyed hash also covers its key id, so
    # a key id cannot be swapped for "" (the unkeyed hash anyone can compute) without breaking it.
    if event.key_id != LEGACY_KEY_ID:
        content["key_id"] = event.key_id
    return content


def _wait_for_other_writers() -> None:
    """Hold the right to append until this transaction ends, so the newest event read next is the last one.

    Locking the newest row is not enough on PostgreSQL: a writer that waited for that lock still gets
    the row it asked for, not the one committed meanwhile, and with no row yet there is nothing to lock;
    two events would link to the same predecessor. EXCLUSIVE mode lets readers through. SQLite's
    transactions here begin IMMEDIATE (settings), which already admits one writer at a time.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {connection.ops.quote_name(AuditEvent._meta.db_table)} IN EXCLUSIVE MODE")


def record(
    action: AuditEvent.Action,
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
    topics: list[str] | None = None,
) -> AuditEvent:
    """Append one event, chained to the previous one. Operation fields fill in what is not given.

    `action` is one of AuditEvent.Action, the registry the audit filter offers: any other raises ValueError,
    so no event is recorded under a name the review pages do not know.

    The event's topics are those of the plan's rows, the internal topics the operation deletes, and `topics`
    (for an event about a topic without a plan).
    """
    if operation is not None:
        cluster = cluster or operation.cluster.name
        group_id = group_id or operation.group_id
        reason = reason or operation.reason
        plan = operation.plan if plan is None else plan
        # A streams group's internal topics that the operation deletes are among what each of its events is about.
        topics = [*(topics or ()), *(row["topic"] for row in operation.internal_topics)]
    plan = plan or []
    action = AuditEvent.Action(action)
    with transaction.atomic():
        _wait_for_other_writers()
        last = AuditEvent.objects.order_by("-id").first()
        event = AuditEvent(
            time=timezone.now(),
            actor=actor,
            source_ip=source_ip,
            action=action.value,
            cluster=cluster,
            group_id=group_id,
            topics=sorted({row["topic"] for row in plan} | set(topics or ())),
            reason=reason,
            plan=plan,
            operation=operation,
            outcome=outcome,
            error=error,
            prev_hash=last.hash if last else GENESIS,
            key_id=current_key_id(),
        )
        event.hash = _digest(_content(event))
        event.save()
    return event


def hash_matches(event: AuditEvent) -> bool:
    """Whether the event's content is still what its hash was computed over (False for a key not configured)."""
    try:
        return hmac.compare_digest(_digest(_content(event)), event.hash)
    except UnknownKey:
        return False


def chain_summary() -> tuple[int, str]:
    """How many events the log holds and the hash of the newest (GENESIS when empty)."""
    last = AuditEvent.objects.order_by("-id").first()
    if last is None:
        return 0, GENESIS
    return AuditEvent.objects.filter(id__lte=last.id).count(), last.hash


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
    `until` are UTC days, both included; `text` is searched in the reason and the error, ignoring case.
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
        events = events.filter(Q(reason__icontains=text) | Q(error__icontains=text))
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
