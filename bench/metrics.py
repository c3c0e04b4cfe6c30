"""Time one `/metrics` scrape at tier M (10,000 groups, 115,000 group partitions), and its size and memory.

No broker is needed for these figures, and none is used: a scrape reads only the snapshot tables,
so they are filled directly with synthetic rows through the collector's own writer
(groups.snapshot.store.write_snapshot), on a throw-away SQLite database. The rows look like a busy
cluster: group and topic names of realistic length, a third of the groups with 1-3 members whose
ids are as long as a Java client's, one partition in fifty assigned but never committed, lag and
lag in seconds everywhere.

Two ways to write the page are measured on the same rows:
- the console's (groups.metrics): one pass over the rows in batches into per-family spooled
  buffers, then streamed in 64 KiB chunks; what `/metrics` serves, timed through Django's test
  client (middleware, view, the whole response consumed);
- prometheus-client's `generate_latest` over a custom collector yielding the same families from
  the same rows: one sample object per series and the whole page as one string.

Each is timed over --rounds scrapes (median and p95 of wall time; with 5 rounds p95 is the slowest;
and the median of the process's CPU time, which other load on the machine does not inflate), then
run once more under tracemalloc for its peak of Python memory (tracemalloc slows it, so not timed).
The spooled buffers pass 1 MiB per family to temporary files: at tier M about the page's size goes
through the temporary directory, none of it held in memory.

Usage: python bench/metrics.py [--groups 10000] [--partitions 115000] [--rounds 5]
"""

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup_django(workdir: Path) -> None:
    os.environ.update(
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "METRICS_ALLOWED_IPS": "127.0.0.1",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _synthetic_rows(groups: int, partitions: int, seed: int = 7):
    """Evaluated rows of `groups` groups with `partitions` group partitions in all, over 12-partition topics."""
    from groups.snapshot import rows
    from groups.snapshot.evaluate import Evaluated, GroupRow

    rng = random.Random(seed)
    statuses = ["OK"] * 80 + ["WARN"] * 8 + ["ERR"] * 4 + ["STALL"] * 3 + ["STOP"] * 3 + ["REWIND", "RESET"]
    topics = [f"domain-{t % 40:02d}.customer-events.v2-{t:04d}" for t in range(max(1, partitions // 12))]
    group_rows, done = [], 0
    for g in range(groups):
        count = (partitions - done) // (groups - g)
        done += count
        group_id = f"service-{g % 97:02d}-consumer-group-{g:05d}"
        members = rng.choice((1, 2, 3)) if g % 3 == 0 else 0
        owners = [
            rows.Owner(
                f"consumer-{group_id}-{m}-{rng.getrandbits(128):032x}",
                f"consumer-{group_id}-{m}",
                f"/10.{g % 250}.{m}.{rng.randrange(1, 250)}",
                None,
            )
            for m in range(members)
        ]
        first = rng.randrange(len(topics))
        details = []
        for i in range(count):
            topic, partition = topics[(first + i // 12) % len(topics)], i % 12
            committed = None if rng.random() < 0.02 else rng.randrange(1_000_000, 50_000_000)
            lag = None if committed is None else rng.choice((0, 0, 0, rng.randrange(1, 100_000)))
            seconds = None if lag is None else (0.0 if lag == 0 else round(rng.uniform(0.5, 3600), 3))
            details.append(
                rows.PartitionDetail(
                    topic,
                    partition,
                    committed,
                    0,
                    None if committed is None else committed + lag,
                    lag,
                    seconds,
                    "OK",
                    owners[i % members] if members else None,
                    "",
                    None,
                    "interpolated" if seconds else "",
                    False,
                    86400.0,
                    "ok",
                )
            )
        lags = [d.lag for d in details if d.lag is not None]
        seconds = [d.lag_seconds for d in details if d.lag_seconds is not None]
        group_rows.append(
            GroupRow(
                group_id=group_id,
                state="Stable" if members else "Empty",
                type="classic",
                members=members,
                topics=sorted({d.topic for d in details}),
                partitions=count,
                lag=sum(lags) if lags else None,
                detail=rows.encode_group_detail(details),
                window="{}",
                lag_seconds=max(seconds, default=None),
                status=rng.choice(statuses),
            )
        )
    return Evaluated(
        window_ms=(int(time.time() * 1000),), groups=group_rows, topics=[], partition_count=done, summary={}
    )


def _scrape_console(client) -> int:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return sum(len(chunk) for chunk in response.streaming_content)


def _scrape_generate_latest() -> int:
    """The same per-group families through prometheus-client's collector API and `generate_latest`."""
    import json

    from prometheus_client import generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.registry import CollectorRegistry

    from groups.models import Cluster, SnapshotGroup
    from groups.snapshot import queries

    partition_labels = ["cluster_name", "group", "topic", "partition", "member_host", "consumer_id", "client_id"]

    class SnapshotCollector:
        def collect(self):
            lag = GaugeMetricFamily("kafka_consumergroup_group_lag", "lag", labels=partition_labels)
            seconds = GaugeMetricFamily("kafka_consumergroup_group_lag_seconds", "lag s", labels=partition_labels)
            offset = GaugeMetricFamily("kafka_consumergroup_group_offset", "offset", labels=partition_labels)
            group_labels = ["cluster_name", "group", "is_simple_consumer"]
            max_lag = GaugeMetricFamily("kafka_consumergroup_group_max_lag", "max", labels=group_labels)
            max_seconds = GaugeMetricFamily("kafka_consumergroup_group_max_lag_seconds", "max s", labels=group_labels)
            sum_lag = GaugeMetricFamily("kafka_consumergroup_group_sum_lag", "sum", labels=["cluster_name", "group"])
            status = GaugeMetricFamily(
                "kafka_console_group_status", "status", labels=["cluster_name", "group", "status"]
            )
            for cluster in Cluster.objects.order_by("name"):
                snapshot = queries.latest_snapshot(cluster).snapshot
                rows = (
                    SnapshotGroup.objects.filter(snapshot=snapshot, replay_operation_id__isnull=True)
                    .order_by("group_id")
                    .values_list("group_id", "members", "lag", "lag_seconds", "status", "detail")
                )
                after = None
                while True:
                    batch = list((rows if after is None else rows.filter(group_id__gt=after))[:1000])
                    for group_id, members, total, worst, state, detail in batch:
                        data = json.loads(detail)
                        owners = [(h.removeprefix("/"), m, c) for m, c, h, _ in data["owners"]]
                        simple = "true" if members == 0 else "false"
                        largest = None
                        for topic, parts in data["topics"].items():
                            for p in parts:
                                if p[1] is None:
                                    continue
                                labels = [
                                    cluster.name,
                                    group_id,
                                    topic,
                                    str(p[0]),
                                    *(owners[p[7]] if p[7] is not None else ("", "", "")),
                                ]
                                offset.add_metric(labels, p[1])
                                if p[4] is not None:
                                    lag.add_metric(labels, p[4])
                                    largest = p[4] if largest is None else max(largest, p[4])
                                if p[5] is not None:
                                    seconds.add_metric(labels, p[5])
                        if largest is not None:
                            max_lag.add_metric([cluster.name, group_id, simple], largest)
                        if worst is not None:
                            max_seconds.add_metric([cluster.name, group_id, simple], worst)
                        if total is not None:
                            sum_lag.add_metric([cluster.name, group_id], total)
                        status.add_metric([cluster.name, group_id, state], 1)
                    if len(batch) < 1000:
                        break
                    after = batch[-1][0]
            yield from (lag, seconds, offset, max_lag, max_seconds, sum_lag, status)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector())
    return len(generate_latest(registry))


def _measure(name: str, scrape, rounds: int) -> None:
    times, cpu, size = [], [], 0
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        size = scrape()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    tracemalloc.start()
    scrape()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1) + 0.4999))]
    print(
        f"  {name:<36} median {statistics.median(times):6.3f} s   p95 {p95:6.3f} s   "
        f"(CPU median {statistics.median(cpu):6.3f} s)   {size / 1e6:5.1f} MB   peak Python memory "
        f"{peak / 1e6:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=115_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.rounds < 1 or args.groups < 1 or args.partitions < args.groups:
        parser.error("--rounds and --groups must be at least 1, --partitions at least --groups")

    workdir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    try:
        _setup_django(workdir)
        from django.test import Client

        from groups.models import Cluster
        from groups.snapshot import store

        cluster = Cluster.objects.create(name="tier-m", bootstrap_servers="127.0.0.1:1")
        started = time.perf_counter()
        evaluated = _synthetic_rows(args.groups, args.partitions)
        store.write_snapshot(cluster, evaluated, taken_at_ms=evaluated.window_ms[0], read_seconds=0.0)
        del evaluated
        print(
            f"{args.groups:,} groups, {args.partitions:,} group partitions written in "
            f"{time.perf_counter() - started:.1f} s (SQLite, no broker); load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        client = Client(REMOTE_ADDR="127.0.0.1")
        _measure("/metrics (streamed, per partition)", lambda: _scrape_console(client), args.rounds)
        _measure("generate_latest (one string)", _scrape_generate_latest, args.rounds)
        Cluster.objects.filter(pk=cluster.pk).update(metrics_per_partition=False)
        _measure("/metrics, per-partition series off", lambda: _scrape_console(client), args.rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
