"""Time one round's evaluation (groups.snapshot.evaluate.evaluate) at tier M, without Kafka or a database.

Tier M: 10,000 groups on 200 topics of 12 partitions, each group committed on 11 or 12
partitions of one topic (115,000 group partitions). The reading is synthetic and the carried
state (window, topic log histories) is built from `--history` simulated 15 s rounds with the
same encoders the collector uses, so the timed call sees what a collector that has been running
a while sees. Two scenarios:

- idle: nothing was produced or consumed since the last round (the state bench/scale.py leaves
  a broker in, and a quiet night);
- busy: every topic's log end grows each round; 60% of groups consume a little faster, 25% are
  caught up, 10% stalled (a member owns the partition, its offset does not move), 5% stopped
  (Empty, offset still).

Prints the median of `--repeat` calls of evaluate() per scenario (wall clock and the process's CPU
time, which shared cores disturb less), and the µs per group partition.
`--profile` prints cProfile's top functions of one call instead.

Usage: python bench/evaluate.py [--groups 10000] [--topics 200] [--history 40] [--repeat 3]
       [--scenario idle|busy|both] [--profile]
"""

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from groups.estimates import LogRound  # noqa: E402
from groups.kafka import TP, Member  # noqa: E402
from groups.kafka.collect import ClusterReading, GroupReading, PartitionReading, TopicReading  # noqa: E402
from groups.snapshot import rows, timelines  # noqa: E402
from groups.snapshot.evaluate import Carried, ConsoleFacts, evaluate  # noqa: E402

PERIOD_MS = 15_000
WINDOW_ROUNDS = 10
PARTITIONS = 12


class Scenario:
    """Synthetic tier-M state advanced round by round, reproducible from a seed."""

    def __init__(self, groups: int, topics: int, busy: bool, seed: int = 9):
        rng = random.Random(seed)
        self.busy = busy
        self.t_ms = 1_700_000_000_000
        self.topics = [f"topic-{n:03d}" for n in range(topics)]
        self.rate = {(t, p): rng.randint(5, 200) for t in self.topics for p in range(PARTITIONS)}
        self.log_end = {tp: rng.randint(100_000, 5_000_000) for tp in self.rate}
        self.log_start = {tp: end // 3 for tp, end in self.log_end.items()}
        kinds = ["consuming"] * 12 + ["caught-up"] * 5 + ["stalled"] * 2 + ["stopped"]
        self.groups = []
        for n in range(groups):
            topic = self.topics[n % topics]
            count = PARTITIONS - (n % 2)
            kind = kinds[n % len(kinds)]
            committed = {
                (topic, p): self.log_end[topic, p] - (0 if kind == "caught-up" else rng.randint(1, 50_000))
                for p in range(count)
            }
            members = []
            if kind != "stopped":
                parts = list(committed)
                for m in range(1 + n % 3):
                    mine = tuple(TP(*tp) for tp in parts[m :: 1 + n % 3])
                    members.append(Member(f"m-{n}-{m}", f"app-{n}", f"/10.0.{n % 250}.{m}", None, mine))
            self.groups.append((f"group-{n:05d}", kind, tuple(members), committed))

    def advance(self) -> None:
        self.t_ms += PERIOD_MS
        if not self.busy:
            return
        for tp, rate in self.rate.items():
            self.log_end[tp] += rate * PERIOD_MS // 1000
        for _, kind, _, committed in self.groups:
            for tp in committed:
                if kind == "caught-up":
                    committed[tp] = self.log_end[tp]
                elif kind == "consuming":
                    committed[tp] = min(self.log_end[tp], committed[tp] + self.rate[tp] * PERIOD_MS // 1000 + 100)

    def reading(self) -> ClusterReading:
        return ClusterReading(
            t_ms=self.t_ms,
            groups={
                gid: GroupReading(
                    gid,
                    "Stable" if members else "Empty",
                    "consumer",
                    members,
                    {TP(*tp): c for tp, c in committed.items()},
                )
                for gid, _, members, committed in self.groups
            },
            topics={t: TopicReading(t, PARTITIONS, False, 7 * 86_400_000) for t in self.topics},
            partitions={
                TP(*tp): PartitionReading(self.log_start[tp], end, end - 1, self.t_ms - 2_000)
                for tp, end in self.log_end.items()
            },
        )


def carried_after(scenario: Scenario, history: int) -> Carried:
    """Run `history` rounds of the scenario and encode what the last one hands on, as the collector does."""
    window_ms: list[int] = []
    group_series: dict[str, dict[tuple[str, int], list]] = {gid: {} for gid, *_ in scenario.groups}
    end_series: dict[tuple[str, int], list] = {tp: [] for tp in scenario.log_end}
    histories: dict[tuple[str, int], list[LogRound]] = {tp: [] for tp in scenario.log_end}
    for _ in range(history):
        scenario.advance()
        window_ms = [*window_ms, scenario.t_ms][-WINDOW_ROUNDS:]
        floor: dict[tuple[str, int], int] = {}
        for gid, _, _, committed in scenario.groups:
            for tp, c in committed.items():
                group_series[gid][tp] = [*group_series[gid].get(tp, [])[-(WINDOW_ROUNDS - 1) :], c]
                if c < scenario.log_end[tp]:
                    floor[tp] = min(c, floor.get(tp, c))
        for tp, end in scenario.log_end.items():
            end_series[tp] = [*end_series[tp][-(WINDOW_ROUNDS - 1) :], end]
            latest = LogRound(scenario.t_ms, scenario.log_start[tp], end, end - 1, scenario.t_ms - 2_000)
            histories[tp] = timelines.append_round(
                histories[tp], latest, keep_offset=floor.get(tp), min_rounds=WINDOW_ROUNDS
            )
    scenario.advance()
    return Carried(
        window_ms=tuple(window_ms),
        group_windows={
            gid: _window(series, owned=min(history, WINDOW_ROUNDS) if members else 0)
            for (gid, _, members, _), series in zip(scenario.groups, group_series.values(), strict=True)
        },
        topic_windows={
            t: rows.encode_window({t: {p: end_series[t, p] for p in range(PARTITIONS)}}) for t in scenario.topics
        },
        topic_histories={t: timelines.encode({p: histories[t, p] for p in range(PARTITIONS)}) for t in scenario.topics},
    )


def _window(series: dict[tuple[str, int], list], owned: int) -> str:
    """A group's carried window: its committed offsets and, when it has members, the rounds they have owned
    each partition (the collector's rows.OWNED entries; without them every owned partition would look newly
    taken, and be judged NEW)."""
    by_topic: dict[str, dict[int, list]] = {}
    for (topic, partition), values in series.items():
        by_topic.setdefault(topic, {})[partition] = values
        if owned:
            by_topic.setdefault(rows.OWNED + topic, {})[partition] = [owned]
    return rows.encode_window(by_topic)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--history", type=int, default=40, help="simulated rounds before the timed one")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", choices=["idle", "busy", "both"], default="both")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}, {os.cpu_count()} cores")
    for name in ["idle", "busy"] if args.scenario == "both" else [args.scenario]:
        scenario = Scenario(args.groups, args.topics, busy=name == "busy")
        carried = carried_after(scenario, args.history)
        reading = scenario.reading()

        def run(reading=reading, carried=carried):
            return evaluate(reading, carried, ConsoleFacts(), window_rounds=WINDOW_ROUNDS)

        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(run)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
            continue
        times, cpu = [], []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            evaluated = run()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        median = statistics.median(times)
        statuses = evaluated.summary["by_status"]
        print(
            f"{name}: evaluate() of {len(evaluated.groups):,} groups, {evaluated.partition_count:,} group partitions: "
            f"median {median:.2f} s of {', '.join(f'{t:.2f}' for t in times)}; "
            f"{median / evaluated.partition_count * 1e6:.1f} µs per group partition; "
            f"CPU median {statistics.median(cpu):.2f} s; statuses {statuses}"
        )
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
