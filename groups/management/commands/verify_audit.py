"""`python manage.py verify_audit`: prove the audit log was not altered, or name the first row that was.

Every event's hash covers its content and the previous event's hash, so an edited, removed or
inserted row breaks the chain. Rewriting every hash from the tampered row onward would pass that
check, and so would dropping the newest rows; `--last-known` catches both, given a hash an earlier
run printed and that was kept outside the database.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from groups import audit
from groups.models import AuditEvent


class Command(BaseCommand):
    help = "Walk the audit log's hash chain; exit non-zero naming the first altered, removed or inserted event."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--last-known",
            metavar="HASH",
            default="",
            help="a 'last hash' an earlier run printed: fail unless the log still holds that event",
        )

    def handle(self, *args, last_known: str, **options) -> None:
        # Counted before the walk, so every event reported was also verified by it.
        count, last_hash = audit.chain_summary()
        chain_break = audit.verify_chain()
        if chain_break is not None:
            blamed = audit.explain_break(chain_break)
            event = AuditEvent.objects.get(pk=blamed.event_id)
            raise CommandError(
                f"Audit log tampered with: event #{event.id} ({event.time.isoformat()}, {event.action} "
                f"by {event.actor}): {blamed.problem}."
            )
        if last_known and last_known != audit.GENESIS and not AuditEvent.objects.filter(hash=last_known).exists():
            raise CommandError(
                f"Audit log tampered with: no event has the hash {last_known} an earlier run reported, so the "
                "newest events were removed or every hash from some event onward was rewritten."
            )
        self.stdout.write(f"Audit log intact: {count} events, last hash {last_hash}")
