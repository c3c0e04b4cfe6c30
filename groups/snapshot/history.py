"""Lag and offset history: append a collection round, read a series back, roll up and prune.

A series is one group's (lag, lag seconds, status, members) or one topic partition's (log start,
log end, newest record's offset and timestamp) over time. Rounds come every 15 s; at 10,000
groups and 2,400 partitions that is 12,400 points a round, 71 M a day: one row per point is too
many rows and too much index for SQLite (and wasteful on PostgreSQL). So points live in three
places, each written once and deleted once:

- the head (`HistoryPoint`): one small row per series per round (values as JSON), keyed by (time,
  series), while its hour is not packed. A round is a few multi-row INSERTs after the last key: at
  tier M on SQLite 1.0 MB written and ~70 ms a round. Keyed by series first, each round rewrote a
  page per series (104 MB a round by the hour's end, measured); rewriting each series' growing
  chunk instead would do the same. A series' head rows are found through the times of the rounds
  (`HistoryRound`), one key each. The key makes a retried round count once.
- hour chunks (`HistoryChunk`): once an hour has ended (and SEAL_DELAY more, for the last round
  to land), each series' rounds of that hour are packed into one chunk of rounds and one chunk
  of twelve 5-minute roll-ups (smallest, largest, last of each value); the head's rows of those
  rounds go once every series is packed.
- day chunks: once a day is packed, its hour roll-ups are merged into one chunk per series.

Every round is kept HISTORY_FULL_RETENTION_HOURS (24) and roll-ups HISTORY_ROLLUP_RETENTION_DAYS
(30): `history_rollup.roll_up_and_prune`, run each minute by Celery beat, does the packing (within
a time budget, carried on by the next run) and the pruning. Retention drops whole chunks (an hour
of rounds, a day of roll-ups) once all of it is past.

Why these lengths (bench/history.py measures them on SQLite: a series-day of synthetic rounds,
tables, indexes and page slack included). Rounds take 33 KB a day in 15-minute chunks, 28 KB in
30-minute, 26 KB in hour and 25 KB in 4-hour chunks; but until its span ends a chunk's rounds
wait in the head at ~64 B a round, so at the head's fullest 38, 37, 43 and 88 KB. Hour chunks are
within a sixth of the best, keep sealing on the roll-ups' hours (a sealed hour is twelve whole
buckets), and make a day of rounds 24 chunks to read. A day of roll-ups takes 4.1 KB in one
chunk against 6.6 KB in hour chunks, and a week's chart reads 7 chunks instead of 168: hence the
daily merge. In all (30 days of 15 s rounds, 200 groups and 48 partitions simulated): 184 KB per
group (1.8 GB for 10,000 groups, 0.4 GB more for 2,400 partitions), a 7-day chart of one group
read in 12 ms (p95 14 ms, on 2 shared CPUs at load 1). A quarter of the chunk table is page slack:
a day of roll-ups (~3 KB) sits alone on a 4 KB page; SQLite with 16 KB pages would store about
15% less.

Reads pick the resolution from the range: up to a day (while every round of it is kept) round
by round; longer as 5-minute roll-ups, the stored ones joined with those of the rounds not yet
packed, rolled up on the spot. Nothing is interpolated: a round that did not happen is absent.
Appends lock their cluster's watermark row, so a late round and the sealing of its hour never
interleave: a round of a sealed hour is refused (it would double a point already packed, or
invent one long after).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.db import connection, transaction

from groups.models import HistoryChunk, HistoryPoint, HistoryRound, HistorySeries, HistoryWatermark
from groups.snapshot.history_packing import (
    Point,
    Value,
    roll_up,
    unpack_buckets,
    unpack_rounds,
)

logger = logging.getLogger(__name__)

SERIES_GROUP = "group"
SERIES_PARTITION = "partition"
VALUES: dict[str, tuple[str, ...]] = {
    SERIES_GROUP: ("lag", "lag_seconds", "status", "members"),
    SERIES_PARTITION: ("log_start", "log_end", "newest_offset", "newest_ts"),
}
_TYPES: dict[str, tuple[type, ...]] = {SERIES_GROUP: (int, float, str, int), SERIES_PARTITION: (int, int, int, int)}

# Best to worst, so a roll-up's `high` status is the worst of its five minutes; a status not named
# here ranks after these.
STATUS_ORDER = ("OK", "NEW", "RESET", "WARN", "REWIND", "AHEAD", "STALL", "STOP", "ERR")

ROLLUP_STEP_MS = 5 * 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# A round is appended after its reads finish; an hour is sealed this long after it ends.
SEAL_DELAY_MS = 5 * 60_000

ROWS_PER_INSERT = 1000  # PostgreSQL takes at most 65,535 parameters a statement
_LONGEST_LABEL = 100
_LARGEST_INT = 1 << 62  # differences of two such numbers still fit in 8 bytes
_to_json = json.JSONEncoder(separators=(",", ":")).encode


def partition_key(topic: str, partition: int) -> str:
    """The key of a topic partition's series (topic names cannot hold a colon)."""
    return f"{topic}:{partition}"


def append_round(cluster_id: int, t_ms: int, kind: str, points: Mapping[str, Sequence[Value]]) -> bool:
    """Keep one collection round: for each series key of `kind`, its values in VALUES[kind] order.

    Appending the same round again changes nothing. A round whose hour is already sealed (a retry
    long after the fact) is refused and False returned. Floats are kept to the thousandth.
    """
    types = _TYPES.get(kind)
    if types is None:
        raise ValueError(f"unknown series kind {kind!r}: use {SERIES_GROUP!r} or {SERIES_PARTITION!r}")
    rows = {key: _as_json(kind, types, key, values) for key, values in points.items()}
    with transaction.atomic():
        watermark, _ = HistoryWatermark.objects.select_for_update().get_or_create(cluster_id=cluster_id, kind=kind)
        if t_ms < watermark.sealed_until_ms:
            logger.info("history: refused a %s round of cluster %s at %s: its hour is sealed", kind, cluster_id, t_ms)
            return False
        HistoryRound.objects.bulk_create(
            [HistoryRound(cluster_id=cluster_id, kind=kind, t_ms=t_ms)], ignore_conflicts=True
        )
        ids = _series_ids(cluster_id, kind, rows)
        _insert_head([(t_ms, ids[key], data) for key, data in rows.items()])
    return True


def read_series(
    cluster_id: int, kind: str, key: str, *, since_ms: int, until_ms: int | None = None, max_points: int | None = None
) -> list[Point]:
    """The points of one series from `since_ms` to `until_ms` (now by default), in time order.

    Round by round when the range is no longer than the full-resolution retention and all its
    rounds are still kept; otherwise the 5-minute roll-ups that begin in the range. With
    `max_points`, more points than that are merged into wider buckets (a multiple of 5 minutes).
    Values come in VALUES[kind] order; an unknown series has no points.
    """
    until = now_ms() if until_ms is None else until_ms
    if until < since_ms:
        raise ValueError("the start of the range is after its end")
    if max_points is not None and max_points < 1:
        raise ValueError("max_points must be at least 1")
    series_id = (
        HistorySeries.objects.filter(cluster_id=cluster_id, kind=kind, key=key).values_list("pk", flat=True).first()
    )
    if series_id is None:
        return []
    kept_from = (
        HistoryWatermark.objects.filter(cluster_id=cluster_id, kind=kind)
        .values_list("rounds_kept_from_ms", flat=True)
        .first()
        or 0
    )
    if until - since_ms <= full_retention_ms() and since_ms >= kept_from:
        rounds = _rounds(cluster_id, kind, series_id, since_ms, until)
        if max_points is None or len(rounds) <= max_points:
            return rounds
    buckets = _buckets(cluster_id, kind, series_id, since_ms, until)
    if max_points is not None and len(buckets) > max_points:
        buckets = roll_up(buckets, _step_for(since_ms, until, max_points), status_rank)
    return buckets


def series_kept(cluster_id: int, kind: str, key: str) -> bool:
    """Whether anything of a series is kept: retention deletes a series with its last chunk."""
    return HistorySeries.objects.filter(cluster_id=cluster_id, kind=kind, key=key).exists()


def read_recent(
    cluster_id: int, kind: str, keys: Sequence[str], *, since_ms: int, until_ms: int | None = None
) -> dict[str, list[tuple[int, tuple[Value, ...]]]]:
    """The rounds of several series from `since_ms` to `until_ms` as (time, values), in three queries
    whatever their number: what a page of 50 rows, each with its last hour, reads. One `read_series`
    each costs 50 times the queries, and a Point per round costs more than reading it (measured).
    Round by round only: the range must be one whose rounds are all kept (ValueError if not).
    Unknown series are left out.
    """
    until = now_ms() if until_ms is None else until_ms
    kept_from = (
        HistoryWatermark.objects.filter(cluster_id=cluster_id, kind=kind)
        .values_list("rounds_kept_from_ms", flat=True)
        .first()
        or 0
    )
    if until - since_ms > full_retention_ms() or since_ms < kept_from:
        raise ValueError("read_recent reads only ranges whose every round is kept; use read_series")
    keys_by_id = dict(
        HistorySeries.objects.filter(cluster_id=cluster_id, kind=kind, key__in=list(keys)).values_list("pk", "key")
    )
    if not keys_by_id:
        return {}
    found: dict[int, dict[int, tuple[Value, ...]]] = {series_id: {} for series_id in keys_by_id}
    # The head first, then the chunks, as _rounds reads: a round packed between the two reads is then
    # found in its chunk (a round found in both keeps the same values).
    times = round_times(cluster_id, kind, since_ms, until)
    head = list(
        HistoryPoint.objects.filter(t_ms__in=times, series_id__in=keys_by_id).values_list("series_id", "t_ms", "data")
    )
    values = json.loads("[" + ",".join(data for _, _, data in head) + "]")
    for (series_id, t_ms, _), one in zip(head, values, strict=True):
        found[series_id][t_ms] = tuple(one)
    chunks = HistoryChunk.objects.filter(
        series_id__in=keys_by_id,
        tier=HistoryChunk.Tier.ROUNDS_HOUR,
        start_ms__gt=since_ms - HOUR_MS,
        start_ms__lte=until,
    )
    for series_id, blob in chunks.values_list("series_id", "payload"):
        found[series_id].update((p.t_ms, p.last) for p in unpack_rounds(blob) if since_ms <= p.t_ms <= until)
    return {keys_by_id[series_id]: sorted(rounds.items()) for series_id, rounds in found.items()}


def storage_bytes() -> dict[str, int]:
    """Bytes on disk of each history table with its indexes (for the benchmark and for operators)."""
    tables = [model._meta.db_table for model in (HistorySeries, HistoryPoint, HistoryChunk, HistoryWatermark)]
    sizes = {}
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            else:
                cursor.execute(
                    "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN "
                    "(SELECT name FROM sqlite_master WHERE tbl_name = %s)",
                    [table],
                )
            sizes[table] = int(cursor.fetchone()[0])
    return sizes


def _as_json(kind: str, types: tuple[type, ...], key: str, values: Sequence[Value]) -> str:
    if not isinstance(key, str):
        raise ValueError(f"a {kind} series key must be text, not {key!r}")
    if len(values) != len(types):
        raise ValueError(
            f"{kind} {key!r}: {len(values)} values given, {len(types)} expected ({', '.join(VALUES[kind])})"
        )
    checked = list(values)
    for n, expected in enumerate(types):
        value = checked[n]
        if value is None:
            continue
        if expected is float and type(value) is int:
            value = float(value)
        if type(value) is not expected:
            raise ValueError(f"{kind} {key!r}: {VALUES[kind][n]} must be {expected.__name__} or None, not {value!r}")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(
                    f"{kind} {key!r}: {VALUES[kind][n]} must be a finite number, or None when it is unknown"
                )
            checked[n] = round(value, 3)
        elif isinstance(value, int) and not -_LARGEST_INT < value < _LARGEST_INT:
            raise ValueError(f"{kind} {key!r}: {VALUES[kind][n]} {value} is too large to keep")
        elif isinstance(value, str) and len(value) > _LONGEST_LABEL:
            raise ValueError(f"{kind} {key!r}: {VALUES[kind][n]} is longer than {_LONGEST_LABEL} characters")
    return _to_json(checked)


def _insert_head(rows: list[tuple[int, int, str]]) -> None:
    """Rows (time, series id, data) inserted by standard multi-row `INSERT ... ON CONFLICT DO NOTHING`
    statements (SQLite 3.24+, PostgreSQL 9.5+); the conflict clause makes a retried round count once.

    The one write here not left to the ORM, because it is the one that runs every round for every
    series: bulk_create builds a model and compiles SQL per row. Measured for a round of 10,000
    groups: SQLite 0.06 s this way, 0.56 s with bulk_create, 0.06 s with executemany; PostgreSQL
    0.33 s this way, 0.44 s with bulk_create, 0.39 s with executemany (a statement a row).
    """
    meta = HistoryPoint._meta
    quote = connection.ops.quote_name
    column_of = {field.name: field.column for field in meta.concrete_fields if field.column}
    columns = ", ".join(quote(column_of[name]) for name in ("t_ms", "series", "data"))
    per_statement = min(ROWS_PER_INSERT, (connection.features.max_query_params or 3 * ROWS_PER_INSERT) // 3)
    with connection.cursor() as cursor:
        for n in range(0, len(rows), per_statement):
            batch = rows[n : n + per_statement]
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "
                f"{', '.join(['(%s, %s, %s)'] * len(batch))} ON CONFLICT DO NOTHING",
                [value for row in batch for value in row],
            )


def _series_ids(cluster_id: int, kind: str, keys: Mapping[str, str]) -> dict[str, int]:
    series = HistorySeries.objects.filter(cluster_id=cluster_id, kind=kind)
    ids = dict(series.values_list("key", "pk"))
    missing = [key for key in keys if key not in ids]
    if missing:
        HistorySeries.objects.bulk_create(
            [HistorySeries(cluster_id=cluster_id, kind=kind, key=key) for key in missing],
            batch_size=ROWS_PER_INSERT,
            ignore_conflicts=True,
        )
        ids = dict(series.values_list("key", "pk"))
    return ids


def _rounds(cluster_id: int, kind: str, series_id: int, since: int, until: int) -> list[Point]:
    head = _head(
        cluster_id, kind, series_id, since, until
    )  # read first: rounds packed meanwhile are then in their chunk
    chunks = HistoryChunk.objects.filter(
        series_id=series_id, tier=HistoryChunk.Tier.ROUNDS_HOUR, start_ms__gt=since - HOUR_MS, start_ms__lte=until
    ).order_by("start_ms")
    packed = [
        p for blob in chunks.values_list("payload", flat=True) for p in unpack_rounds(blob) if since <= p.t_ms <= until
    ]
    return _by_time(head + packed)


def _buckets(cluster_id: int, kind: str, series_id: int, since: int, until: int) -> list[Point]:
    start = since - since % ROLLUP_STEP_MS
    fresh = roll_up(_head(cluster_id, kind, series_id, start, until), ROLLUP_STEP_MS, status_rank)
    chunks = HistoryChunk.objects.filter(
        series_id=series_id,
        tier__in=(HistoryChunk.Tier.ROLLUP_HOUR, HistoryChunk.Tier.ROLLUP_DAY),
        start_ms__gt=start - DAY_MS,
        start_ms__lte=until,
    ).order_by("start_ms")
    stored = [
        p
        for blob in chunks.values_list("payload", flat=True)
        for p in unpack_buckets(blob, ROLLUP_STEP_MS)
        if start <= p.t_ms <= until
    ]
    return _by_time(fresh + stored)


def _by_time(points: list[Point]) -> list[Point]:
    """In time order, once each: a point read twice (from the head, then from the chunk it was packed
    into between the two reads) keeps its later reading, the stored one."""
    return list({p.t_ms: p for p in sorted(points, key=lambda p: p.t_ms)}.values())


def _head(cluster_id: int, kind: str, series_id: int, since: int, until: int) -> list[Point]:
    times = round_times(cluster_id, kind, since, until)
    rows = HistoryPoint.objects.filter(t_ms__in=times, series_id=series_id).order_by("t_ms")
    return decode_head(list(rows.values_list("series_id", "t_ms", "data")))


def round_times(cluster_id: int, kind: str, since: int, until: int) -> list[int]:
    """The times of the rounds in the head from since to until: a series' head rows are looked up by
    them, one key each, since the head is keyed by time first."""
    rounds = HistoryRound.objects.filter(cluster_id=cluster_id, kind=kind, t_ms__gte=since, t_ms__lte=until)
    return list(rounds.values_list("t_ms", flat=True))


def decode_head(rows: Sequence[tuple[int, int, str]]) -> list[Point]:
    """Head rows as rounds; one JSON document for all of them is several times faster than one each."""
    values = json.loads("[" + ",".join(data for _, _, data in rows) + "]")
    return [Point(t, v, v, v) for (_, t, _), v in zip(rows, map(tuple, values), strict=True)]


def _step_for(since: int, until: int, max_points: int) -> int:
    """The narrowest multiple of 5 minutes whose aligned buckets cover the range in at most max_points."""
    factor = max(1, math.ceil((until - since) / ROLLUP_STEP_MS / max_points))
    while until // (factor * ROLLUP_STEP_MS) - since // (factor * ROLLUP_STEP_MS) + 1 > max_points:
        factor += 1
    return factor * ROLLUP_STEP_MS


_RANKS = {status: (n, status) for n, status in enumerate(STATUS_ORDER)}


def status_rank(label: str) -> tuple[int, str]:
    """The sort key of a status label in roll-ups: STATUS_ORDER's, unknown labels last."""
    return _RANKS.get(label) or (len(STATUS_ORDER), label)


def full_retention_ms() -> int:
    return settings.HISTORY_FULL_RETENTION_HOURS * HOUR_MS


def now_ms() -> int:
    return int(time.time() * 1000)
