"""`python manage.py verify_audit`: prove the audit log was not altered, or name the row that was.

Every event's hash is keyed (HMAC) with a secret the database does not hold and covers the event's
content and the previous event's hash, so an edited, removed, inserted or forged row breaks the chain.
Removing the newest rows leaves the chain intact: the latest signed checkpoint (kept outside the
database, see audit_checkpoints) catches that. `--last-known` does the same with a hash an earlier run
printed and someone kept.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from groups import audit
from groups.audit_checkpoints import CheckpointError, checkpoint_dir, latest_checkpoint
from groups.audit_verification import describe, find_tampering
from groups.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Walk the audit log's keyed hash chain and compare it with the latest checkpoint; exit non-zero "
        "naming the altered, removed, inserted or forged event."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--last-known",
            metavar="HASH",
            default="",
            help="a 'last hash' an earlier run printed: fail unless the log still holds that event",
        )

    def handle(self, *args, last_known: str, **options) -> None:
        try:
            checkpoint = latest_checkpoint()
        except CheckpointError as error:
            raise CommandError(f"The latest audit checkpoint cannot be trusted: {error}.") from None
        # Counted before the walk, so every event reported was also verified by it.
        count, last_hash = audit.chain_summary()
        finding = find_tampering(checkpoint)
        if finding is not None:
            raise CommandError(f"Audit log tampered with: {describe(finding)}.")
        if last_known and last_known != audit.GENESIS and not AuditEvent.objects.filter(hash=last_known).exists():
            raise CommandError(
                f"Audit log tampered with: no event has the hash {last_known} an earlier run reported, so the "
                "newest events were removed or every hash from some event onward was rewritten."
            )
        self.stdout.write(f"Audit log intact: {count} events, last hash {last_hash}")
        if checkpoint is None:
            self.stderr.write(
                f"No audit checkpoint in {checkpoint_dir()} yet: removing the newest events goes "
                "unnoticed until one is written (manage.py audit_checkpoint, or Celery beat)."
            )
        else:
            self.stdout.write(
                f"It agrees with the latest checkpoint, {checkpoint.path.name}: event "
                f"#{checkpoint.head_id} was the head at {checkpoint.time.isoformat()}."
            )
