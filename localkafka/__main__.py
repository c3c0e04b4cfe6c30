"""`python -m localkafka jars|start|status|stop|tool`: the local broker without Django.

`python manage.py localkafka` runs this same program; `jars` prints the jar directory for the Makefile.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from . import LocalKafkaError
from .broker import TOOLS, LocalKafka, ensure_jars, tool_command
from .redis_server import redis_status, stop_redis


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("jars", help="fetch the Kafka jars (once) and print their directory")
    for name, text in (
        ("start", "start the broker (same ports, same topics and groups as before), or reuse the running one; "
                  "prints bootstrap=HOST:PORT"),
        ("status", "print bootstrap=HOST:PORT, or exit 1 if the broker is not running"),
        ("stop", "stop the broker; its data and ports are kept for the next start"),
        ("tool", "run a Kafka CLI tool against the running broker"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--dir", dest="state_dir", help="state directory (default: <repo>/.localkafka)")
    actions.choices["start"].add_argument(
        "--new-ports", action="store_true", help="move the broker to free ports (when another process took one)"
    )
    # Redis stays up by default: a worker or console using it would otherwise loop on connection errors.
    actions.choices["stop"].add_argument(
        "--all", action="store_true", help="also stop the redis-server that localkafka started in the state dir"
    )
    tool = actions.choices["tool"]
    tool.add_argument("name", choices=TOOLS)
    # REMAINDER so the tool's own options (--describe --group g ...) pass through untouched.
    tool.add_argument("tool_args", nargs=argparse.REMAINDER, metavar="ARGS")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m localkafka") -> int:
    options = _parser(prog).parse_args(argv)
    try:
        if options.action == "jars":
            print(ensure_jars())
            return 0
        broker = LocalKafka(options.state_dir)
        if options.action == "start":
            print(f"bootstrap={broker.start(new_ports=options.new_ports)}")
        elif options.action == "stop":
            broker.stop()
            if options.all:
                stop_redis(broker.state_dir)
            elif redis_url := redis_status(broker.state_dir):
                print(f"localkafka: Redis keeps running at {redis_url} (stop --all stops it too)", file=sys.stderr)
        elif broker.status() is None:
            print(f"localkafka: the broker of {broker.state_dir} is not running", file=sys.stderr)
            return 1
        elif options.action == "status":
            print(f"bootstrap={broker.bootstrap}")
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
