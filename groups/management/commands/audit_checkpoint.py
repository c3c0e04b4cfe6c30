"""`python manage.py audit_checkpoint`: sign the audit log's head into a checkpoint outside the database.

Celery beat runs the same every AUDIT_CHECKPOINT_INTERVAL seconds (groups.tasks.write_audit_checkpoint).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from groups.audit_checkpoints import CheckpointError, write_checkpoint


class Command(BaseCommand):
    help = (
        "Verify the audit log since the latest checkpoint and write a signed checkpoint of its head "
        "to AUDIT_CHECKPOINT_DIR."
    )

    def handle(self, *args, **options) -> None:
        try:
            checkpoint, written = write_checkpoint()
        except CheckpointError as error:
            raise CommandError(f"No checkpoint written: {error}.") from None
        if checkpoint is None:
            self.stdout.write("The audit log is empty: nothing to checkpoint yet.")
        elif written:
            self.stdout.write(
                f"Checkpoint written: {checkpoint.path} (head event #{checkpoint.head_id}, {checkpoint.count} events)."
            )
        else:
            self.stdout.write(f"The head is still event #{checkpoint.head_id}: {checkpoint.path} stands.")
