"""`python manage.py localkafka start|status|stop|tool|jars`: a local single-node Kafka for development.

The same program as `python -m localkafka`, reached through manage.py.
"""

import sys

from django.core.management.base import BaseCommand

from localkafka.__main__ import main


class Command(BaseCommand):
    help = "Start, inspect or stop a local single-node Apache Kafka, or run a Kafka CLI tool against it."
    # Touches neither the database nor the URLconf, so it must work while those are broken.
    requires_system_checks = []

    def run_from_argv(self, argv):
        # The tool's own options (--describe --group g ...) must reach it untouched, so the
        # arguments go to localkafka's own parser rather than Django's.
        sys.exit(main(argv[2:], prog=f"{argv[0]} {argv[1]}"))
