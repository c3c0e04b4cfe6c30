"""`python -m localkafka jars|start|status|stop|tool`: the local broker without Django.

`python manage.py localkafka` runs this same program; `jars` prints the jar directory for the Makefile.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from . import LocalKafkaError
from .broker import TOOLS, LocalKafka, ensure_jars, tool_command
from .redis_server import stop_redis


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("jars", help="fetch the Kafka jars (once) and print their directory")
    for name, text in (
        ("start", "start the broker, or reuse the running one; prints bootstrap=HOST:PORT"),
        ("status", "print bootstrap=HOST:PORT, or exit 1 if the broker is not running"),
        ("stop", "stop the broker, and the redis-server ensure_redis started in the same state dir"),
        ("tool", "run a Kafka CLI tool against the running broker"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--dir", dest="state_dir", help="state directory (default: <repo>/.localkafka)")
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
            print(f"bootstrap={broker.start()}")
        elif options.action == "stop":
            broker.stop()
            stop_redis(broker.state_dir)
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
