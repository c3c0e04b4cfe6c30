"""Dating committed offsets older than the collector's history, on a seeded tier (bench/scale.py's state).

Usage: python bench/dating.py [--reuse bench/results/state-M] [--tasks 4]
Runs a first collection round, then as the collection task does: dating.date_records() and the next
round, `--tasks` times. Prints per task what it wanted, read and how long it took, and the next round's
time with its "previous snapshot" step (which loads the dated records).
"""

import argparse
import os
import sys
import time
from pathlib import Path

from console_env import ROOT, console_on_local_kafka  # also puts the repository on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", default=str(ROOT / "bench" / "results" / "state-M"))
    parser.add_argument("--tasks", type=int, default=4)
    args = parser.parse_args()
    from localkafka.broker import LocalKafka

    broker = LocalKafka(Path(args.reuse) / "kafka")
    os.environ["KAFKA_BOOTSTRAP"] = bootstrap = broker.start()
    try:
        with console_on_local_kafka("bench-dating-", redis=True):
            _run(bootstrap, args.tasks)
    finally:
        broker.stop()


def _run(bootstrap: str, tasks: int) -> None:
    from groups.models import Cluster, DatedRecord
    from groups.snapshot import dating
    from groups.snapshot.collector import COLLECTED, collect

    cluster = Cluster.objects.create(name="bench", bootstrap_servers=bootstrap)
    first = collect(cluster)
    # A broker just started may still load its group coordinator: no round, or one that sees no group yet.
    while first.outcome != COLLECTED or not first.groups:
        time.sleep(2)
        first = collect(cluster)
    print(f"first round {first.seconds:.2f} s: {first.partitions:,} group partitions, {first.undated:,} undated")
    for task in range(1, tasks + 1):
        t0 = time.perf_counter()
        report = dating.date_records(cluster)
        took = time.perf_counter() - t0
        after = collect(cluster)
        print(
            f"task {task}: {took:.2f} s, wanted {report.wanted:,}, read {report.read:,}, dropped {report.dropped:,}"
            f"{', error ' + report.error if report.error else ''}; kept {DatedRecord.objects.count():,}; next round "
            f"{after.seconds:.2f} s (previous snapshot {after.steps.get('load_previous', 0):.2f} s, evaluation "
            f"{after.steps.get('evaluate', 0):.2f} s), undated {after.undated:,}",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
