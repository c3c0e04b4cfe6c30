"""Run the collector's rounds in a fresh process, the way a beat-driven worker would, and report them.

Usage (bench/scale.py runs it under bench/measure.py, with the run's Django environment):
    python bench/collect_rounds.py CLUSTER ROUNDS
Prints one JSON line: each round's wall time and this process's CPU time in it (on a machine shared with other work
the CPU time moves less), what the command said about it, its steps' seconds, and the process's RSS after Django
was set up (what the collector starts from) and at its peak.
"""

import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    cluster, rounds = sys.argv[1], int(sys.argv[2])
    import django

    django.setup()
    from django.core.management import call_command

    baseline = _peak_rss_bytes()
    seconds, cpu, said = [], [], []
    for _ in range(rounds):
        out = io.StringIO()
        t0, cpu0 = time.perf_counter(), time.process_time()
        # Verbosity 2: the command also says how long each of its steps took.
        call_command("collect_lag", cluster=cluster, stdout=out, verbosity=2)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - cpu0)
        said.append(out.getvalue().strip())
    print(
        json.dumps(
            {
                "rounds_s": seconds,
                "rounds_cpu_s": cpu,
                "steps": [_steps(text) for text in said],
                "said": said,
                "baseline_rss_bytes": baseline,
                "peak_rss_bytes": _peak_rss_bytes(),
            }
        )
    )


def _steps(said: str) -> dict[str, float]:
    """The steps line of a round (`  read 1.234, evaluate 0.567, ...`) as {step: seconds}."""
    line = said.splitlines()[-1]
    if not line.startswith("  "):
        return {}
    return {name: float(value) for name, value in (item.rsplit(" ", 1) for item in line.strip().split(", "))}


def _peak_rss_bytes() -> int:
    """This process's own high-water mark (VmHWM; not ru_maxrss, which carries the parent's across exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


if __name__ == "__main__":
    main()
