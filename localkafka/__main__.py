"""`python -m localkafka jars|start|status|stop|tool|postgres|promtool`: the local broker (and PostgreSQL) without Django.

`python manage.py localkafka` runs this same program; `jars` prints the jar directory for the Makefile,
`promtool` the path of Prometheus' promtool (unpacked from Debian's package on first use).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from . import LocalKafkaError
from .broker import TOOLS, LocalKafka, ensure_jars, tool_command
from .postgres import LocalPostgres
from .promtool import ensure_promtool
from .redis_server import redis_status, stop_redis


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("jars", help="fetch the Kafka jars (once) and print their directory")
    actions.add_parser("promtool", help="unpack Prometheus' promtool from Debian's package (once) and print its path")
    for name, text in (
        (
            "start",
            "start the broker (same ports, same topics and groups as before), or reuse the running one; "
            "prints bootstrap=HOST:PORT",
        ),
        (
            "status",
            "print bootstrap=HOST:PORT (and the secured listener's settings), or exit 1 if the broker is not running",
        ),
        ("stop", "stop the broker; its data and ports are kept for the next start (--all: Redis and PostgreSQL too)"),
        ("tool", "run a Kafka CLI tool against the running broker"),
        ("postgres", "start, stop or show a throwaway PostgreSQL; start and status print DATABASE_URL=..."),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--dir", dest="state_dir", help="state directory (default: <repo>/.localkafka)")
    actions.choices["start"].add_argument(
        "--new-ports", action="store_true", help="move the broker to free ports (when another process took one)"
    )
    actions.choices["start"].add_argument(
        "--secured",
        action="store_true",
        help="add a SASL_SSL listener (SCRAM-SHA-512 user, throwaway CA) beside PLAINTEXT; later starts keep it",
    )
    # Redis stays up by default: a worker or console using it would otherwise loop on connection errors.
    actions.choices["stop"].add_argument(
        "--all", action="store_true", help="also stop the Redis and PostgreSQL that localkafka started in the state dir"
    )
    actions.choices["postgres"].add_argument("postgres_action", choices=("start", "stop", "status"))
    tool = actions.choices["tool"]
    tool.add_argument("name", choices=TOOLS)
    # REMAINDER so the tool's own options (--describe --group g ...) pass through untouched.
    tool.add_argument("tool_args", nargs=argparse.REMAINDER, metavar="ARGS")
    return parser


def _print_access(broker: LocalKafka) -> None:
    """key=value lines a script can read; the password's file, never the password."""
    print(f"bootstrap={broker.bootstrap}")
    if broker.secured:
        secured = broker.secured
        print(f"secured_bootstrap={secured.bootstrap}")
        print("security_protocol=SASL_SSL")
        print(f"sasl_mechanism={secured.mechanism}")
        print(f"sasl_username={secured.username}")
        print(f"sasl_password_file={secured.password_file}")
        print(f"ssl_ca_location={secured.ca_file}")


def _postgres(action: str, server: LocalPostgres) -> int:
    if action == "start":
        print(f"DATABASE_URL={server.start()}")
    elif action == "stop":
        server.stop()
    elif server.status() is None:
        print(f"localkafka: the PostgreSQL of {server.state_dir} is not running", file=sys.stderr)
        return 1
    else:
        print(f"DATABASE_URL={server.url}")
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m localkafka") -> int:
    options = _parser(prog).parse_args(argv)
    try:
        if options.action == "jars":
            print(ensure_jars())
            return 0
        if options.action == "promtool":
            print(ensure_promtool())
            return 0
        if options.action == "postgres":
            return _postgres(options.postgres_action, LocalPostgres(options.state_dir))
        broker = LocalKafka(options.state_dir)
        if options.action == "start":
            broker.start(new_ports=options.new_ports, secured=options.secured)
            _print_access(broker)
        elif options.action == "stop":
            broker.stop()
            if options.all:
                stop_redis(broker.state_dir)
                LocalPostgres(broker.state_dir).stop()
            elif redis_url := redis_status(broker.state_dir):
                print(f"localkafka: Redis keeps running at {redis_url} (stop --all stops it too)", file=sys.stderr)
        elif broker.status() is None:
            print(f"localkafka: the broker of {broker.state_dir} is not running", file=sys.stderr)
            return 1
        elif options.action == "status":
            _print_access(broker)
        else:
            return subprocess.run(tool_command(options.name, options.tool_args, broker.bootstrap)).returncode
    except LocalKafkaError as error:
        print(f"localkafka: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
