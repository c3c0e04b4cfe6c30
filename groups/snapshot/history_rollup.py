"""History upkeep, run each minute by Celery beat: seal the hours that ended, pack their rounds into
chunks with their 5-minute roll-ups, merge whole days of roll-ups, and drop what is past retention.
The layout it keeps is described in `groups.snapshot.history`, which appends and reads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from groups.models import HistoryChunk, HistoryPoint, HistorySeries, HistoryWatermark
from groups.snapshot import history
from groups.snapshot.history_packing import pack_buckets, pack_rounds, roll_up, unpack_buckets

_SERIES_PER_TRANSACTION = 500
# Seconds a roll_up_and_prune run may start packing transactions for: it shares the collection queue.
ROLLUP_BUDGET_S = 10.0


@dataclass
class RollupReport:
    rounds_packed: int = 0
    chunks_written: int = 0
    days_merged: int = 0
    chunks_pruned: int = 0
    series_removed: int = 0
    transactions: int = 0
    finished: bool = True  # False: the time budget ran out; the next run carries on
    seconds: float = 0.0


def roll_up_and_prune(now_ms: int | None = None, *, budget_s: float = ROLLUP_BUDGET_S) -> RollupReport:
    """Seal the hours that ended more than SEAL_DELAY ago, pack their rounds into chunks, merge whole
    days of roll-ups, and drop the chunks past retention.

    Packing stops starting new transactions (of 500 series each) after `budget_s` seconds and the
    next run carries on, so the hour's packing at 10,000 groups is spread over a few runs instead
    of holding the collection queue for a minute. Safe to run at any time, twice at once, or again
    after a crash half-way: each series is packed in one transaction that locks it, and each
    watermark moves only once its step is done for every series.
    """
    started = time.monotonic()
    deadline = started + budget_s
    now = history.now_ms() if now_ms is None else now_ms
    report = RollupReport()
    sealed = now - history.SEAL_DELAY_MS - (now - history.SEAL_DELAY_MS) % history.HOUR_MS
    # An UPDATE waits for the row lock an append holds, so it never cuts into an append.
    HistoryWatermark.objects.filter(sealed_until_ms__lt=sealed).update(sealed_until_ms=sealed)
    for watermark_id in HistoryWatermark.objects.order_by("pk").values_list("pk", flat=True):
        _pack(watermark_id, report, deadline)
        _merge_days(watermark_id, report, deadline)
    _prune(now, report)
    report.seconds = time.monotonic() - started
    return report


def _pack(watermark_id: int, report: RollupReport, deadline: float) -> None:
    watermark = HistoryWatermark.objects.get(pk=watermark_id)
    until = watermark.sealed_until_ms
    if watermark.packed_until_ms >= until:
        return
    waiting = HistoryPoint.objects.filter(series=OuterRef("pk"), t_ms__lt=until)
    for batch in _series_batches(watermark, Exists(waiting)):
        if _out_of_time(report, deadline):
            return
        with transaction.atomic():
            _lock(batch)
            head = HistoryPoint.objects.filter(series_id__in=batch, t_ms__lt=until)
            rows = head.order_by("series_id", "t_ms").values_list("series_id", "t_ms", "data")
            packed, rolled = [], []
            for (series_id, hour), run in groupby(
                rows.iterator(chunk_size=10_000), key=lambda row: (row[0], row[1] - row[1] % history.HOUR_MS)
            ):
                rounds = history.decode_head(list(run))
                buckets = roll_up(rounds, history.ROLLUP_STEP_MS, history.status_rank)
                packed.append(
                    HistoryChunk(
                        series_id=series_id,
                        tier=HistoryChunk.Tier.ROUNDS_HOUR,
                        start_ms=hour,
                        points=len(rounds),
                        payload=pack_rounds(rounds),
                    )
                )
                rolled.append(
                    HistoryChunk(
                        series_id=series_id,
                        tier=HistoryChunk.Tier.ROLLUP_HOUR,
                        start_ms=hour,
                        points=len(buckets),
                        payload=pack_buckets(buckets),
                    )
                )
                report.rounds_packed += len(rounds)
            # Hour roll-ups leave a day after the rounds beside them: stored apart, they free whole pages.
            chunks = packed + rolled
            if chunks:
                HistoryChunk.objects.bulk_create(chunks, batch_size=history.ROWS_PER_INSERT)
                head.delete()
                report.chunks_written += len(chunks)
    HistoryWatermark.objects.filter(pk=watermark_id, packed_until_ms__lt=until).update(packed_until_ms=until)


def _merge_days(watermark_id: int, report: RollupReport, deadline: float) -> None:
    watermark = HistoryWatermark.objects.get(pk=watermark_id)
    until = watermark.packed_until_ms - watermark.packed_until_ms % history.DAY_MS
    if watermark.days_until_ms >= until:
        return
    waiting = HistoryChunk.objects.filter(series=OuterRef("pk"), tier=HistoryChunk.Tier.ROLLUP_HOUR, start_ms__lt=until)
    for batch in _series_batches(watermark, Exists(waiting)):
        if _out_of_time(report, deadline):
            return
        with transaction.atomic():
            _lock(batch)
            hours = HistoryChunk.objects.filter(
                series_id__in=batch, tier=HistoryChunk.Tier.ROLLUP_HOUR, start_ms__lt=until
            )
            rows = hours.order_by("series_id", "start_ms").values_list("series_id", "start_ms", "payload")
            days = []
            for (series_id, day), run in groupby(
                rows.iterator(chunk_size=2_000), key=lambda row: (row[0], row[1] - row[1] % history.DAY_MS)
            ):
                buckets = [b for _, _, blob in run for b in unpack_buckets(blob, history.ROLLUP_STEP_MS)]
                days.append(
                    HistoryChunk(
                        series_id=series_id,
                        tier=HistoryChunk.Tier.ROLLUP_DAY,
                        start_ms=day,
                        points=len(buckets),
                        payload=pack_buckets(buckets),
                    )
                )
            if days:
                HistoryChunk.objects.bulk_create(days, batch_size=history.ROWS_PER_INSERT)
                hours.delete()
                report.days_merged += len(days)
    HistoryWatermark.objects.filter(pk=watermark_id, days_until_ms__lt=until).update(days_until_ms=until)


def _prune(now: int, report: RollupReport) -> None:
    rounds_from = now - history.full_retention_ms()
    rollups_from = now - settings.HISTORY_ROLLUP_RETENTION_DAYS * history.DAY_MS
    Tier = HistoryChunk.Tier
    rollups_pruned = False
    for tier, span, keep_from in (
        (Tier.ROUNDS_HOUR, history.HOUR_MS, rounds_from),
        (Tier.ROLLUP_HOUR, history.HOUR_MS, rollups_from),
        (Tier.ROLLUP_DAY, history.DAY_MS, rollups_from),
    ):
        deleted, _ = HistoryChunk.objects.filter(tier=tier, start_ms__lte=keep_from - span).delete()
        report.chunks_pruned += deleted
        rollups_pruned = rollups_pruned or (deleted > 0 and tier != Tier.ROUNDS_HOUR)
    if rollups_pruned:
        report.series_removed += _remove_empty_series()
    # Hour chunks end on the hour: every round from the last whole hour past retention on is kept.
    kept_from = rounds_from - rounds_from % history.HOUR_MS
    HistoryWatermark.objects.filter(rounds_kept_from_ms__lt=kept_from).update(rounds_kept_from_ms=kept_from)


def _remove_empty_series() -> int:
    """Series whose every chunk is past retention (a group deleted a month ago): drop them."""
    removed = 0
    for watermark in HistoryWatermark.objects.all():
        with transaction.atomic():
            # Under the lock appends take, so no append can be adding a round to a series going away.
            list(HistoryWatermark.objects.select_for_update().filter(pk=watermark.pk).values_list("pk", flat=True))
            empty = (
                HistorySeries.objects.filter(cluster_id=watermark.cluster_id, kind=watermark.kind)
                .exclude(Exists(HistoryChunk.objects.filter(series=OuterRef("pk"))))
                .exclude(Exists(HistoryPoint.objects.filter(series=OuterRef("pk"))))
            )
            removed += empty.delete()[1].get(HistorySeries._meta.label, 0)
    return removed


def _series_batches(watermark: HistoryWatermark, waiting: Exists) -> Iterator[list[int]]:
    """The watermark's series that still have work waiting, so a run that stopped on its time budget
    is carried on by the next from where it stopped."""
    ids = list(
        HistorySeries.objects.filter(waiting, cluster_id=watermark.cluster_id, kind=watermark.kind)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for n in range(0, len(ids), _SERIES_PER_TRANSACTION):
        yield ids[n : n + _SERIES_PER_TRANSACTION]


def _out_of_time(report: RollupReport, deadline: float) -> bool:
    """Past the deadline, once at least one transaction of this run is done (so every run moves on)."""
    if report.transactions and time.monotonic() > deadline:
        report.finished = False
        return True
    report.transactions += 1
    return False


def _lock(series_ids: list[int]) -> None:
    """Hold these series until the transaction ends, so two packers never pack the same rounds.

    On PostgreSQL a NO KEY lock, which appends (their foreign key checks) do not wait for. SQLite has
    no row locks; there the console's transactions take the database's write lock up front."""
    locked = HistorySeries.objects.select_for_update(no_key=True).filter(pk__in=series_ids)
    list(locked.values_list("pk", flat=True))
