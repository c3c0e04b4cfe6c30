"""History storage: bytes per group for 30 days of 15 s rounds, and the 7-day chart query time.

Synthetic rounds for --groups groups and --partitions topic partitions (by default 200 and 48,
the 10,000 : 2,400 ratio of tier M) are appended every --period seconds over --days days through
`history.append_round`, each simulated hour's rounds in one transaction (the rows are the same as
one transaction a round; the simulation is spared 240 commits an hour). After each hour
`roll_up_and_prune` runs at the moment beat would seal it. At the end the database holds what a
console holds after 30 days: a day of rounds, 30 days of roll-ups, the head of the last hour.

Bytes on disk are read per table (SQLite's dbstat, PostgreSQL's pg_total_relation_size) and
split between groups and partitions: chunk payloads are counted per kind, and the rest of each
table (row headers, keys, indexes) is shared out by rows. Per group and per partition is then that
divided by the series simulated: an extrapolation per series, stated as such.

The synthetic data: 60% of groups busy (lag a random walk, lag in seconds to the millisecond), 30%
caught up (lag 0-50), 10% falling behind; status mostly OK with occasional changes; partitions
with log end growing at a steady rate with noise, log start moving once an hour, the newest
record's timestamp a little before the round. Round times jitter by up to 300 ms.

Then 50 reads of the last 7 days of one group each (5-minute roll-ups: day chunks, hour chunks and
the head), median and p95; the same for 24 hours (every round) and 30 days. --tier-m also times
one round's append at 10,000 groups and 2,400 partitions, and packing a whole hour of them.

Usage: python bench/history.py [--groups 200] [--partitions 48] [--days 30] [--period 15] [--tier-m]
       [--database-url postgres://... (an empty database; SQLite in a temp dir by default)]
"""

import argparse
import math
import os
import random
import statistics
import sys
import time

from console_env import console_on_scratch_database  # also puts the repository on sys.path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=48)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--period", type=int, default=15, help="seconds between rounds")
    parser.add_argument("--tier-m", action="store_true", help="also time appends and packing at 10,000 groups")
    parser.add_argument("--database-url", help="an empty database to use instead of a throw-away SQLite file")
    args = parser.parse_args()
    with console_on_scratch_database("bench-history-", args.database_url):
        _bench(args)


class Synthetic:
    """Made-up but plausible rounds, reproducible from a seed."""

    def __init__(self, groups: int, partitions: int, seed: int = 9):
        self.rng = random.Random(seed)
        kinds = ["busy"] * 6 + ["caught-up"] * 3 + ["behind"]
        self.groups = [
            (f"{self.rng.choice(['orders', 'billing', 'search', 'audit'])}-consumer-{n:05d}", kinds[n % 10])
            for n in range(groups)
        ]
        self.lag = [self.rng.randint(0, 20_000) for _ in range(groups)]
        self.members = [self.rng.randint(1, 6) for _ in range(groups)]
        self.status = ["OK"] * groups
        self.partitions = [f"topic-{n // 12:03d}:{n % 12}" for n in range(partitions)]
        self.rate = [self.rng.uniform(5, 500) for _ in range(partitions)]
        self.log_end = [self.rng.randint(10**6, 10**9) for _ in range(partitions)]
        self.log_start = [end - self.rng.randint(10**5, 10**6) for end in self.log_end]

    def round(self, t_ms: int, period_s: int) -> tuple[dict, dict]:
        rng = self.rng
        groups = {}
        for n, (key, kind) in enumerate(self.groups):
            if kind == "busy":
                self.lag[n] = max(0, self.lag[n] + rng.randint(-400, 400))
            elif kind == "caught-up":
                self.lag[n] = rng.randint(0, 50)
            else:
                self.lag[n] += rng.randint(0, 200)
            if rng.random() < 0.002:
                self.status[n] = rng.choice(["OK", "OK", "WARN", "ERR", "STALL"])
            if rng.random() < 0.0005:
                self.members[n] = max(1, self.members[n] + rng.choice([-1, 1]))
            seconds = 0.0 if self.lag[n] == 0 else round(self.lag[n] / 150 + rng.random(), 3)
            groups[key] = (self.lag[n], seconds, self.status[n], self.members[n])
        partitions = {}
        for n, key in enumerate(self.partitions):
            self.log_end[n] += max(0, int(self.rate[n] * period_s * rng.uniform(0.5, 1.5)))
            if rng.random() < period_s / 3600:
                self.log_start[n] += int(self.rate[n] * 3600)
            partitions[key] = (
                self.log_start[n],
                self.log_end[n],
                self.log_end[n] - 1,
                t_ms - rng.randint(0, period_s * 1000),
            )
        return groups, partitions


def _bench(args) -> None:
    from django.db import connection, transaction

    from groups.models import Cluster
    from groups.snapshot import history, history_rollup

    cluster = Cluster.objects.create(name="bench", bootstrap_servers="127.0.0.1:1")
    data = Synthetic(args.groups, args.partitions)
    period_ms = args.period * 1000
    end = int(time.time() * 1000)
    end -= end % history.HOUR_MS
    start = end - args.days * history.DAY_MS
    print(
        f"{connection.vendor}: {args.groups} groups and {args.partitions} partitions, a round every "
        f"{args.period} s for {args.days} days ({args.days * history.DAY_MS // period_ms:,} rounds)",
        flush=True,
    )

    began, appends, rolls = time.monotonic(), [], []
    for hour in range(start, end, history.HOUR_MS):
        with transaction.atomic():
            for t in range(hour, hour + history.HOUR_MS, period_ms):
                t_ms = t + data.rng.randint(0, 300)
                groups, partitions = data.round(t_ms, args.period)
                t0 = time.perf_counter()
                history.append_round(cluster.pk, t_ms, history.SERIES_GROUP, groups)
                history.append_round(cluster.pk, t_ms, history.SERIES_PARTITION, partitions)
                appends.append(time.perf_counter() - t0)
        if hour + history.HOUR_MS < end:
            t0 = time.perf_counter()
            history_rollup.roll_up_and_prune(hour + history.HOUR_MS + history.SEAL_DELAY_MS, budget_s=math.inf)
            rolls.append(time.perf_counter() - t0)
        if (hour - start) % history.DAY_MS == history.DAY_MS - history.HOUR_MS:
            print(
                f"  day {(hour - start) // history.DAY_MS + 1} simulated ({time.monotonic() - began:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    # Beat's last run before the last hour is sealed: the head holds that hour's rounds, its fullest.
    history_rollup.roll_up_and_prune(end + history.SEAL_DELAY_MS - 1, budget_s=math.inf)

    print(
        f"simulated in {time.monotonic() - began:.0f} s; an append of one round "
        f"({args.groups} groups + {args.partitions} partitions) took {_ms(statistics.median(appends))} median; "
        f"roll_up_and_prune after each hour {_ms(statistics.median(rolls))} median, {_ms(max(rolls))} at most"
    )
    _storage(args, history)
    _reads(cluster, data, end, history)
    if args.tier_m:
        _tier_m(end, args.period, history)


def _storage(args, history) -> None:
    from django.db.models import Count, Func, Sum

    from groups.models import HistoryChunk, HistoryPoint, HistorySeries

    tables = history.storage_bytes()
    chunk_table, head_table = HistoryChunk._meta.db_table, HistoryPoint._meta.db_table
    series_table = HistorySeries._meta.db_table
    chunks = {
        row["series__kind"]: row
        for row in HistoryChunk.objects.values("series__kind").annotate(
            rows=Count("pk"), payload=Sum(Func("payload", function="LENGTH"))
        )
    }
    heads = dict(HistoryPoint.objects.values_list("series__kind").annotate(rows=Count("pk")))
    series = dict(HistorySeries.objects.values_list("kind").annotate(rows=Count("pk")))
    chunk_rows = sum(c["rows"] for c in chunks.values())
    chunk_overhead = (tables[chunk_table] - sum(c["payload"] for c in chunks.values())) / chunk_rows

    def share(kind: str) -> float:
        return (
            chunks[kind]["payload"]
            + chunks[kind]["rows"] * chunk_overhead
            + tables[head_table] * heads.get(kind, 0) / max(1, sum(heads.values()))
            + tables[series_table] * series[kind] / sum(series.values())
        )

    print("\non disk (tables with their indexes): " + ", ".join(f"{t} {_mb(b)}" for t, b in tables.items()))
    per_tier = HistoryChunk.objects.values_list("tier").annotate(
        rows=Count("pk"), payload=Sum(Func("payload", function="LENGTH"))
    )
    for tier, rows, payload in sorted(per_tier):
        print(f"  {HistoryChunk.Tier(tier).label}: {rows:,} chunks, {payload / rows:,.0f} bytes of payload each")
    slack = _unused_bytes(chunk_table)
    row_cost = chunk_overhead - (slack or 0) / chunk_rows
    print(
        f"  a chunk row costs {chunk_overhead:.0f} bytes beside its payload"
        + (
            f": {row_cost:.0f} of row and index entries, {slack / chunk_rows:.0f} of space its pages leave unused"
            if slack is not None
            else ""
        )
        + f"; {sum(heads.values()):,} rounds in the head"
    )
    group, partition = share(history.SERIES_GROUP) / args.groups, share(history.SERIES_PARTITION) / args.partitions
    print(
        f"\nbytes per group for {args.days} day{'s' if args.days != 1 else ''} of history "
        f"at a {args.period} s period: {group:,.0f} "
        f"({_mb(group * 10_000)} for 10,000 groups)"
    )
    print(
        f"bytes per topic partition:                          {partition:,.0f} "
        f"({_mb(partition * 2_400)} for 2,400 partitions)"
    )
    print(f"  (measured on {args.groups} groups and {args.partitions} partitions, extrapolated per series)")
    _chunk_lengths(args.period, tables[head_table] / max(1, sum(heads.values())))


def _unused_bytes(table: str) -> int | None:
    """Space the pages of a table and its indexes hold but no row uses (SQLite only: dbstat)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(unused) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = %s)",
            [table],
        )
        return int(cursor.fetchone()[0] or 0)


def _chunk_lengths(period_s: int, head_row_bytes: float) -> None:
    """What a series-day takes on disk with chunks of other lengths, measured: a day of the same kind of
    synthetic rounds for 200 groups packed each way, written in the order packing writes them (each
    span's chunks of every series together) into a table shaped like HistoryChunk on SQLite, and read
    back with dbstat. Rounds are kept a day; roll-ups 30 days (the day's chunks written 30 times). For
    rounds, add the head at its fullest: a chunk is packed only once its span has ended."""
    import sqlite3
    from bisect import bisect_left

    from groups.snapshot.history import ROLLUP_STEP_MS, SEAL_DELAY_MS, status_rank
    from groups.snapshot.history_packing import Point, pack_buckets, pack_rounds, roll_up

    data, day, minute = Synthetic(200, 0, seed=11), 86_400_000, 60_000
    rounds: dict[str, list[Point]] = {key: [] for key, _ in data.groups}
    for t in range(0, day, period_s * 1000):
        for key, values in data.round(t, period_s)[0].items():
            rounds[key].append(Point.of_round(t, values))
    buckets = {key: roll_up(points, ROLLUP_STEP_MS, status_rank) for key, points in rounds.items()}

    def on_disk(pack, series: dict[str, list[Point]], span: int, days: int, page_size: int) -> float:
        windows = []
        for points in series.values():
            times = [p.t_ms for p in points]
            windows.append(
                [pack(points[bisect_left(times, t) : bisect_left(times, t + span)]) for t in range(0, day, span)]
            )
        db = sqlite3.connect(":memory:")
        db.execute(f"PRAGMA page_size = {page_size}")
        db.execute(
            "CREATE TABLE chunk (tier smallint NOT NULL, start_ms bigint NOT NULL, points integer NOT NULL, "
            "payload BLOB NOT NULL, series_id bigint NOT NULL, PRIMARY KEY (series_id, tier, start_ms))"
        )
        db.execute("CREATE INDEX age ON chunk (tier, start_ms)")
        db.executemany(
            "INSERT INTO chunk (series_id, tier, start_ms, points, payload) VALUES (?, 1, ?, 0, ?)",
            (
                (n, d * day + w * span, blobs[w])
                for d in range(days)
                for w in range(day // span)
                for n, blobs in enumerate(windows)
            ),
        )
        (size,) = db.execute("SELECT SUM(pgsize) FROM dbstat").fetchone()
        return size / len(series) / days

    print("\nbytes a series-day takes with chunks of other lengths (SQLite, tables and indexes, measured):")
    print(f"  {'':<26}{'4 KB pages':>12}{'16 KB pages':>12}   + head at its fullest (4 KB pages)")
    for label, pack, series, span, days in (
        ("rounds, 15-minute chunks", pack_rounds, rounds, 15 * minute, 1),
        ("rounds, 30-minute chunks", pack_rounds, rounds, 30 * minute, 1),
        ("rounds, 1-hour chunks", pack_rounds, rounds, 60 * minute, 1),
        ("rounds, 4-hour chunks", pack_rounds, rounds, 240 * minute, 1),
        ("roll-ups, 1-hour chunks", pack_buckets, buckets, 60 * minute, 30),
        ("roll-ups, 1-day chunks", pack_buckets, buckets, day, 30),
    ):
        small, large = (on_disk(pack, series, span, days, page) for page in (4096, 16384))
        head = (span + SEAL_DELAY_MS) // (period_s * 1000) * head_row_bytes if pack is pack_rounds else 0
        print(f"  {label:<26}{small:>12,.0f}{large:>12,.0f}   {small + head:>8,.0f}")


def _reads(cluster, data, end: int, history) -> None:
    keys = [key for key, _ in data.groups]
    # Timings on a shared machine move with its load: say what it was.
    print(f"\nload average before the reads: {', '.join(f'{n:.1f}' for n in os.getloadavg())} ({os.cpu_count()} CPUs)")
    for label, span, max_points in (
        ("24 h, every round", history.DAY_MS, None),
        ("7 d, 5-minute roll-ups", 7 * history.DAY_MS, None),
        ("7 d, at most 500 points", 7 * history.DAY_MS, 500),
        ("30 d, at most 1,000 points", 30 * history.DAY_MS, 1000),
    ):
        times, sizes = [], []
        for n in range(50):
            t0 = time.perf_counter()
            points = history.read_series(
                cluster.pk,
                history.SERIES_GROUP,
                keys[n * 7 % len(keys)],
                since_ms=end - span,
                until_ms=end,
                max_points=max_points,
            )
            times.append(time.perf_counter() - t0)
            sizes.append(len(points))
        times.sort()
        print(
            f"chart query for one group, {label:<27} median {_ms(statistics.median(times))}, "
            f"p95 {_ms(times[int(len(times) * 0.95) - 1])}  ({statistics.median(sizes):,.0f} points)"
        )


def _tier_m(end: int, period_s: int, history) -> None:
    from django.db import connection, transaction

    from groups.models import Cluster
    from groups.snapshot import history_rollup

    cluster = Cluster.objects.create(name="tier-m", bootstrap_servers="127.0.0.1:1")
    data = Synthetic(10_000, 2_400, seed=10)
    start = end + history.DAY_MS  # an hour of its own, after everything else
    times, written = [], []
    for n, t in enumerate(range(start, start + history.HOUR_MS, period_s * 1000)):
        groups, partitions = data.round(t, period_s)
        t0, w0 = time.perf_counter(), _bytes_written()
        with transaction.atomic():
            history.append_round(cluster.pk, t, history.SERIES_GROUP, groups)
            history.append_round(cluster.pk, t, history.SERIES_PARTITION, partitions)
        if n:  # the first round also creates the 12,400 series
            times.append(time.perf_counter() - t0)
            written.append(_bytes_written() - w0)
    report = history_rollup.roll_up_and_prune(start + history.HOUR_MS + history.SEAL_DELAY_MS, budget_s=math.inf)
    # SQLite writes in this process; PostgreSQL's server does its own writing, not counted here.
    io = (
        f", writing {_mb(statistics.median(written))} to disk (median, {_mb(max(written))} at most, rollback "
        "journal included)"
        if connection.vendor == "sqlite"
        else ""
    )
    print(
        f"\ntier M: appending one round of 10,000 groups and 2,400 partitions took {_ms(statistics.median(times))} "
        f"median, {_ms(max(times))} at most{io}; packing their hour ({report.rounds_packed:,} rounds into "
        f"{report.chunks_written:,} chunks, {report.transactions} transactions) took {report.seconds:.1f} s "
        f"(beat spreads it over runs of {history_rollup.ROLLUP_BUDGET_S:.0f} s)"
    )


def _bytes_written() -> int:
    """What this process has had written to storage so far (Linux), so an append's I/O can be told."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("write_bytes"))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


if __name__ == "__main__":
    main()
