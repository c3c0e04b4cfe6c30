from django.core.management.base import BaseCommand, CommandError

from groups.management.cli import cluster_named
from groups.snapshot.collector import FAILED, collect


class Command(BaseCommand):
    help = (
        "Run one lag collection round for a cluster (what the Celery beat task runs every period): read "
        "every group's offsets and every partition's log ends, store the snapshot, print the round's duration."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster", required=True, help="The registered cluster's name.")

    def handle(self, *args, cluster: str, verbosity: int, **options):
        row = cluster_named(cluster)

        def progress(step: str) -> None:
            if verbosity >= 2:
                self.stdout.write(f"{row.name}: {step}")
                self.stdout.flush()

        report = collect(row, progress=progress)
        if report.outcome == FAILED:
            raise CommandError(report.describe())
        self.stdout.write(report.describe())
        if verbosity >= 2 and report.steps:
            self.stdout.write("  " + ", ".join(f"{name} {value:.3f}" for name, value in report.steps.items()))
