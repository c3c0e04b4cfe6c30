"""Verification of the audit log: its keyed hash chain, and the log against the latest signed checkpoint.

A break in the chain shows at the first row whose link, key or hash is wrong, which is not always the
row to blame (an insertion shows at the row after it). `explain` names the row someone touched and what
was done to it; `compare_with_checkpoint` catches what leaves the chain intact: the newest events
removed, or the head replaced by someone who holds the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from groups.audit import GENESIS, LEGACY_KEY_ID, hash_matches, key_known
from groups.models import AuditEvent


@dataclass(frozen=True)
class Checkpoint:
    """A signed record of the log's head, written outside the database (groups.audit_checkpoints)."""

    time: datetime
    head_id: int
    head_hash: str
    count: int
    key_id: str
    signature: str
    path: Path

    def signed_fields(self) -> dict:
        # "kind" keeps a checkpoint's signature from ever standing for anything else signed with the key.
        return {
            "kind": "audit-checkpoint",
            "time": self.time.isoformat(),
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "count": self.count,
        }


@dataclass(frozen=True)
class Finding:
    """The event to blame (missing: it is no longer in the log) and what happened to it."""

    event_id: int
    problem: str
    missing: bool = False


def find_tampering(checkpoint: Checkpoint | None) -> Finding | None:
    """Walk the whole chain, then compare it with checkpoint (the latest, or None): the first finding, or None."""
    break_id = first_break(checkpoint=checkpoint)
    if break_id is not None:
        return explain(break_id, checkpoint)
    return compare_with_checkpoint(checkpoint) if checkpoint else None


def first_break(after: AuditEvent | None = None, checkpoint: Checkpoint | None = None) -> int | None:
    """The id of the first event after `after` (from the start when None) whose link, key or hash is wrong.

    An unkeyed (legacy) event is wrong after a keyed one, and after the checkpoint's head: the console
    has keyed every event since it first keyed one, and a checkpoint exists only from such a console.
    """
    expected_prev = after.hash if after else GENESIS
    keyed_seen = after is not None
    events = AuditEvent.objects.order_by("id")
    if after is not None:
        events = events.filter(id__gt=after.id)
    for event in events.iterator(chunk_size=2000):
        if event.prev_hash != expected_prev or not hash_matches(event):
            return event.id
        if event.key_id == LEGACY_KEY_ID and (keyed_seen or _passed_checkpoint(event, checkpoint) is not None):
            return event.id
        keyed_seen = keyed_seen or event.key_id != LEGACY_KEY_ID
        expected_prev = event.hash
    return None


def _passed_checkpoint(event: AuditEvent, checkpoint: Checkpoint | None) -> Checkpoint | None:
    """The checkpoint, when the event comes after its head; None otherwise."""
    return checkpoint if checkpoint is not None and event.id > checkpoint.head_id else None


def _describe_link(prev_hash: str) -> str:
    if prev_hash == GENESIS:
        return "the start of the chain"
    linked = AuditEvent.objects.filter(hash=prev_hash).order_by("id").first()
    return f"event #{linked.id}" if linked else "no event in the log"


def _own_problem(event: AuditEvent, checkpoint: Checkpoint | None) -> str | None:
    """Why the event itself cannot be genuine, or None when its own content, key and hash hold up."""
    original = AuditEvent.objects.filter(hash=event.hash, id__lt=event.id).order_by("id").first()
    if original is not None:
        return f"it repeats event #{original.id} (the same content and hash): it was copied into the log"
    if not key_known(event.key_id):
        return (
            f"it names the audit key {event.key_id!r}, which is not configured: if that key was retired, add "
            "it back to AUDIT_HMAC_KEY (or its file) to verify the events it signed; otherwise it was forged"
        )
    if not hash_matches(event):
        following = AuditEvent.objects.filter(id__gt=event.id).order_by("id").first()
        vouched = following is not None and following.prev_hash == event.hash and hash_matches(following)
        if event.key_id == LEGACY_KEY_ID or vouched:
            # A genuine next event links to this hash, so the console wrote it: the content changed since.
            return "its content does not match its hash: it was altered"
        passed = _passed_checkpoint(event, checkpoint)
        late = (
            f", after the head #{passed.head_id} of the checkpoint of {passed.time.isoformat()}"
            if passed is not None
            else ""
        )
        return f"its hash is not the keyed hash of its content{late}: it was altered, or forged without the audit key"
    if event.key_id == LEGACY_KEY_ID:
        passed = _passed_checkpoint(event, checkpoint)
        if passed is not None:
            return (
                f"it has an unkeyed hash, yet comes after the head #{passed.head_id} of the checkpoint of "
                f"{passed.time.isoformat()}, and only a console that keys every event writes checkpoints: "
                "it was forged"
            )
        keyed = AuditEvent.objects.filter(id__lt=event.id).exclude(key_id=LEGACY_KEY_ID).order_by("id").first()
        if keyed is not None:
            return (
                f"it has an unkeyed hash, yet event #{keyed.id} before it is keyed and the console has keyed "
                "every event since: it was forged"
            )
    return None


def explain(event_id: int, checkpoint: Checkpoint | None = None) -> Finding:
    """The row to blame for the break `first_break` found at event_id, and what happened to it."""
    event = AuditEvent.objects.get(pk=event_id)
    previous = AuditEvent.objects.filter(id__lt=event.id).order_by("-id").first()
    following = AuditEvent.objects.filter(id__gt=event.id).order_by("id").first()
    expected_prev = previous.hash if previous else GENESIS
    skipped_to = f"event #{previous.id}" if previous else "the start of the chain"
    own = _own_problem(event, checkpoint)
    if own is not None and own.startswith("it repeats"):
        return Finding(event.id, own)
    if following is not None and following.prev_hash == expected_prev:
        return Finding(event.id, f"it was inserted: event #{following.id} after it links past it to {skipped_to}")
    if own is not None:
        if event.prev_hash == expected_prev:
            return Finding(event.id, own)
        return Finding(event.id, f"{own}; and it links to {_describe_link(event.prev_hash)}, not to {skipped_to}")
    # The event itself is genuine, so its link tells what happened before it.
    if event.prev_hash == GENESIS:
        return Finding(
            AuditEvent.objects.earliest("id").id,
            f"it was inserted: event #{event.id} is the first of the chain and links past it",
        )
    linked = AuditEvent.objects.filter(hash=event.prev_hash, id__lt=event.id).first()
    if linked is not None:
        inserted = AuditEvent.objects.filter(id__gt=linked.id, id__lt=event.id).order_by("id")
        count = inserted.count()
        others = f" (and {count - 1} more event{'s' if count > 2 else ''} after it)" if count > 1 else ""
        return Finding(
            inserted.earliest("id").id,
            f"it was inserted{others}: event #{event.id} links past it to event #{linked.id}",
        )
    if previous is None:
        return Finding(event.id, "the events before it were removed: it links to an event that no longer exists")
    if event.id - previous.id > 1:
        missing = f"#{previous.id + 1}" if event.id - previous.id == 2 else f"#{previous.id + 1} to #{event.id - 1}"
        return Finding(
            event.id,
            f"event {missing}, between #{previous.id} and it, was removed: it links to an event that no longer exists",
        )
    return Finding(
        previous.id,
        f"its hash was rewritten: event #{event.id} after it links to a different "
        "hash, so it was altered and re-hashed or replaced",
    )


def compare_with_checkpoint(checkpoint: Checkpoint) -> Finding | None:
    """What the checkpoint shows that an intact chain does not: a truncated log or a replaced head."""
    when = f"the checkpoint of {checkpoint.time.isoformat()}"
    head = AuditEvent.objects.filter(pk=checkpoint.head_id).first()
    if head is None:
        newest = AuditEvent.objects.filter(id__lt=checkpoint.head_id).order_by("-id").first()
        kept = f"the log now ends at event #{newest.id}" if newest else "the log is now empty"
        return Finding(
            checkpoint.head_id,
            f"it was the head of {when} ({checkpoint.count} events), but {kept}: "
            "the log was truncated, the newest events removed",
            missing=True,
        )
    if head.hash != checkpoint.head_hash:
        return Finding(
            head.id,
            f"its hash is not the one {when} recorded for the head: it was altered and "
            "re-hashed by someone holding the audit key, or replaced",
        )
    count = AuditEvent.objects.filter(id__lte=head.id).count()
    if count != checkpoint.count:
        return Finding(
            head.id,
            f"{when} counted {checkpoint.count} events up to this head, the log holds {count}: "
            "events before it were removed or inserted and the chain rebuilt",
        )
    return None


def describe(finding: Finding) -> str:
    """The finding as one sentence naming the event: 'event #12 (time, action by actor): what happened'."""
    if finding.missing:
        return f"event #{finding.event_id} (no longer in the log): {finding.problem}"
    event = AuditEvent.objects.get(pk=finding.event_id)
    return f"event #{event.id} ({event.time.isoformat()}, {event.action} by {event.actor}): {finding.problem}"
