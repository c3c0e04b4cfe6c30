"""`python manage.py localkafka start|status|stop|tool`: a local single-node Kafka for development.

A thin layer over localkafka.broker; `python -m localkafka` does the same without Django.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from django.core.management.base import BaseCommand, CommandError

from localkafka import LocalKafkaError
from localkafka.broker import TOOLS, LocalKafka, tool_command
from localkafka.redis_server import stop_redis


class Command(BaseCommand):
    help = "Start, inspect or stop a local single-node Apache Kafka, or run a Kafka CLI tool against it."
    # Touches neither the database nor the URLconf, so it must work while those are broken.
    requires_system_checks = []

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("start", "start the broker, or reuse the running one; prints bootstrap=HOST:PORT"),
            ("status", "print bootstrap=HOST:PORT, or exit 1 if the broker is not running"),
            ("stop", "stop the broker, and the redis-server ensure_redis started in the same state dir"),
            ("tool", "run a Kafka CLI tool against the running broker, e.g. tool consumer-groups --list"),
        ):
            action = actions.add_parser(name, help=text)
            action.add_argument("--dir", dest="state_dir", help="state directory (default: <repo>/.localkafka)")
        tool = actions.choices["tool"]
        tool.add_argument("name", choices=TOOLS)
        # REMAINDER so the tool's own options (--describe --group g ...) pass through untouched.
        tool.add_argument("tool_args", nargs=argparse.REMAINDER, metavar="ARGS")

    def handle(self, *args, action, state_dir=None, **options):
        broker = LocalKafka(state_dir)
        try:
            if action == "start":
                self.stdout.write(f"bootstrap={broker.start()}")
            elif action == "stop":
                broker.stop()
                stop_redis(broker.state_dir)
            elif broker.status() is None:
                self.stderr.write(f"localkafka: the broker of {broker.state_dir} is not running")
                sys.exit(1)
            elif action == "status":
                self.stdout.write(f"bootstrap={broker.bootstrap}")
            else:
                # Inherited stdio: output streams live, and console-consumer stays interactive.
                returncode = subprocess.run(tool_command(options["name"], options["tool_args"], broker.bootstrap)).returncode
                if returncode:
                    sys.exit(returncode)
        except LocalKafkaError as error:
            raise CommandError(error) from None
        except KeyboardInterrupt:
            sys.exit(130)
