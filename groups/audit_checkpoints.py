"""Signed checkpoints of the audit log's head, kept outside the database.

A checkpoint records at a moment how many events the log held and the id and hash of the newest, signed
with the audit key, as one JSON file in settings.AUDIT_CHECKPOINT_DIR. Whoever can rewrite the database
but neither holds the key nor reaches that directory cannot make the log agree with the latest checkpoint
after removing its newest events. A checkpoint is only written for a log that verifies since the previous
one, so a forged event is never signed into one.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from groups import audit
from groups.audit_verification import Checkpoint, Finding, compare_with_checkpoint, describe, explain, first_break
from groups.models import AuditEvent

FILE_PREFIX = "audit-checkpoint-"


class CheckpointError(Exception):
    """A checkpoint cannot be read or trusted, or must not be written; the message says which and why."""


class TamperedLog(CheckpointError):
    def __init__(self, finding: Finding):
        self.finding = finding
        super().__init__(f"the audit log was tampered with, so no checkpoint was signed: {describe(finding)}")


def checkpoint_dir() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def latest_checkpoint() -> Checkpoint | None:
    """The newest checkpoint in the directory, its signature verified; None when there is none yet."""
    try:
        paths = sorted(checkpoint_dir().glob(f"{FILE_PREFIX}*.json"))
    except OSError as error:
        raise CheckpointError(f"the checkpoint directory {checkpoint_dir()} cannot be read: {error.strerror}") from None
    return read_checkpoint(paths[-1]) if paths else None


def read_checkpoint(path: Path) -> Checkpoint:
    try:
        data = json.loads(path.read_text())
        checkpoint = Checkpoint(
            time=datetime.fromisoformat(data["time"]),
            head_id=int(data["head_id"]),
            head_hash=str(data["head_hash"]),
            count=int(data["count"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
            path=path,
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"{path} cannot be read as a checkpoint ({error!r}): it was damaged, or this console did not write it"
        ) from None
    try:
        genuine = audit.signature_matches(checkpoint.signed_fields(), checkpoint.key_id, checkpoint.signature)
    except audit.UnknownKey:
        raise CheckpointError(
            f"{path} is signed with the audit key {checkpoint.key_id!r}, which is not configured: "
            "add it back to AUDIT_HMAC_KEY (or its file), or the checkpoint was forged"
        ) from None
    if not genuine:
        raise CheckpointError(f"the signature of {path} does not match its content: it was altered or forged")
    return checkpoint


def write_checkpoint() -> tuple[Checkpoint | None, bool]:
    """Verify the log since the latest checkpoint, then sign its head into a new checkpoint file.

    Returns (checkpoint, written): the new checkpoint and True; or the latest one and False when the head
    has not moved since it; or (None, False) for an empty log that no checkpoint has seen. Raises
    TamperedLog (naming the event) instead of signing a log that does not verify.
    """
    previous = latest_checkpoint()
    head = AuditEvent.objects.order_by("-id").first()
    if previous is not None:
        finding = compare_with_checkpoint(previous)
        if finding is not None:
            raise TamperedLog(finding)
        break_id = first_break(after=AuditEvent.objects.get(pk=previous.head_id), checkpoint=previous)
    else:
        break_id = first_break()
    if break_id is not None:
        raise TamperedLog(explain(break_id, previous))
    if head is None or (previous is not None and previous.head_id == head.id):
        return previous, False
    now = timezone.now()
    path = checkpoint_dir() / f"{FILE_PREFIX}{now:%Y%m%dT%H%M%S.%fZ}-{head.id}.json"
    unsigned = Checkpoint(
        time=now,
        head_id=head.id,
        head_hash=head.hash,
        count=AuditEvent.objects.filter(id__lte=head.id).count(),
        key_id="",
        signature="",
        path=path,
    )
    key_id, signature = audit.sign(unsigned.signed_fields())
    checkpoint = Checkpoint(**{**unsigned.__dict__, "key_id": key_id, "signature": signature})
    _write_atomically(path, {**checkpoint.signed_fields(), "key_id": key_id, "signature": signature})
    return checkpoint, True


def _write_atomically(path: Path, content: dict) -> None:
    """A reader never sees half a checkpoint: write beside it, flush to disk, then rename into place."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
        with os.fdopen(handle, "w") as file:
            json.dump(content, file, indent=1, sort_keys=True)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise CheckpointError(f"the checkpoint {path} cannot be written: {error.strerror}") from None
