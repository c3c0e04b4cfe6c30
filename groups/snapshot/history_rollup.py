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

from groups.models import HistoryChunk, HistoryPoint, HistoryRound, HistorySeries, HistoryWatermark
from groups.snapshot import history, rebalances
from groups.snapshot.history_packing import pack_buckets, pack_rounds, roll_up, unpack_buckets

_SERIES_PER_TRANSACTION = 500
_HOURS_PER_PACKING = 6
# Seconds a roll_up_and_prune run may start packing transactions for: it shares the collection queue.
ROLLUP_BUDGET_S = 10.0


@dataclass
class RollupReport:
    rounds_packed: int = 0
    chunks_written: int = 0
    days_merged: int = 0
    chunks_pruned: int = 0
    rebalances_pruned: int = 0
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
    after a crash half-way: packing and merging write their chunks once whoever writes them first,
    their progress is kept in the watermark, and each watermark moves only once its step is done for
    every series.
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
    """Pack one watermark's sealed rounds, a transaction of series at a time, its progress kept in the
    watermark so the next run carries on after a time budget or a crash (a batch packed twice is
    written once: its chunks are the same). The head's rows of those rounds go only once every
    series is packed, in one delete: a batch's rows lie on every page of the hour, the hour's rows on
    pages of their own. Until then a read finds a round both in the head and in its chunk, and keeps
    it once."""
    watermark = HistoryWatermark.objects.get(pk=watermark_id)
    if watermark.packing_until_ms <= watermark.packed_until_ms and not _start_packing(watermark):
        return
    until = watermark.packing_until_ms
    rounds = HistoryRound.objects.filter(cluster_id=watermark.cluster_id, kind=watermark.kind, t_ms__lt=until)
    times = list(rounds.values_list("t_ms", flat=True))
    series = HistorySeries.objects.filter(
        cluster_id=watermark.cluster_id, kind=watermark.kind, pk__gt=watermark.packing_done_through
    )
    ids = list(series.order_by("pk").values_list("pk", flat=True))
    for n in range(0, len(ids), _SERIES_PER_TRANSACTION):
        batch = ids[n : n + _SERIES_PER_TRANSACTION]
        if _out_of_time(report, deadline):
            return
        with transaction.atomic():
            rows = sorted(
                HistoryPoint.objects.filter(t_ms__in=times, series_id__in=batch).values_list(
                    "series_id", "t_ms", "data"
                )
            )
            packed, rolled = [], []
            for (series_id, hour), run in groupby(rows, key=lambda row: (row[0], row[1] - row[1] % history.HOUR_MS)):
                points = history.decode_head(list(run))
                buckets = roll_up(points, history.ROLLUP_STEP_MS, history.status_rank)
                packed.append(_chunk(series_id, HistoryChunk.Tier.ROUNDS_HOUR, hour, len(points), pack_rounds(points)))
                rolled.append(
                    _chunk(series_id, HistoryChunk.Tier.ROLLUP_HOUR, hour, len(buckets), pack_buckets(buckets))
                )
                report.rounds_packed += len(points)
            # Hour roll-ups leave a day after the rounds beside them: stored apart, they free whole pages.
            HistoryChunk.objects.bulk_create(packed + rolled, batch_size=history.ROWS_PER_INSERT, ignore_conflicts=True)
            report.chunks_written += len(packed) + len(rolled)
            HistoryWatermark.objects.filter(pk=watermark_id, packing_until_ms=until).update(
                packing_done_through=batch[-1]
            )
    with transaction.atomic():
        head = HistoryPoint.objects.filter(
            t_ms__in=times, series__cluster_id=watermark.cluster_id, series__kind=watermark.kind
        )
        head.delete()
        rounds.delete()
        HistoryWatermark.objects.filter(pk=watermark_id, packed_until_ms__lt=until).update(packed_until_ms=until)


def _start_packing(watermark: HistoryWatermark) -> bool:
    """Begin packing the sealed rounds not packed yet, at most _HOURS_PER_PACKING of them (which keeps
    the list of round times a packing looks rows up by short, after an outage of the beat too)."""
    if watermark.packed_until_ms >= watermark.sealed_until_ms:
        return False
    oldest = (
        HistoryRound.objects.filter(cluster_id=watermark.cluster_id, kind=watermark.kind)
        .order_by("t_ms")
        .values_list("t_ms", flat=True)
        .first()
    )
    until = watermark.sealed_until_ms
    if oldest is not None:
        until = min(until, oldest - oldest % history.HOUR_MS + _HOURS_PER_PACKING * history.HOUR_MS)
    started = HistoryWatermark.objects.filter(pk=watermark.pk, packing_until_ms=watermark.packing_until_ms).update(
        packing_until_ms=until, packing_done_through=0
    )
    watermark.refresh_from_db()
    return bool(started) or watermark.packing_until_ms > watermark.packed_until_ms


def _chunk(series_id: int, tier: int, start_ms: int, points: int, payload: bytes) -> HistoryChunk:
    return HistoryChunk(series_id=series_id, tier=tier, start_ms=start_ms, points=points, payload=payload)


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
            hours = HistoryChunk.objects.filter(
                series_id__in=batch, tier=HistoryChunk.Tier.ROLLUP_HOUR, start_ms__lt=until
            )
            rows = hours.order_by("series_id", "start_ms").values_list("series_id", "start_ms", "payload")
            days = []
            for (series_id, day), run in groupby(
                rows.iterator(chunk_size=2_000), key=lambda row: (row[0], row[1] - row[1] % history.DAY_MS)
            ):
                buckets = [b for _, _, blob in run for b in unpack_buckets(blob, history.ROLLUP_STEP_MS)]
                days.append(_chunk(series_id, HistoryChunk.Tier.ROLLUP_DAY, day, len(buckets), pack_buckets(buckets)))
            if days:
                # A day merged twice at once (two runs) is the same day: the second is not written.
                HistoryChunk.objects.bulk_create(days, batch_size=history.ROWS_PER_INSERT, ignore_conflicts=True)
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
    # Rebalances are kept as long as the roll-ups they are read beside.
    report.rebalances_pruned += rebalances.prune(rollups_from)
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
            series = HistorySeries.objects.filter(cluster_id=watermark.cluster_id, kind=watermark.kind)
            chunkless = set(
                series.exclude(Exists(HistoryChunk.objects.filter(series=OuterRef("pk")))).values_list("pk", flat=True)
            )
            if not chunkless:
                continue
            # A group back after a month has rounds in the head and no chunk yet: it stays.
            rounds = HistoryRound.objects.filter(cluster_id=watermark.cluster_id, kind=watermark.kind)
            times = list(rounds.values_list("t_ms", flat=True))
            chunkless -= set(
                HistoryPoint.objects.filter(t_ms__in=times, series_id__in=chunkless).values_list("series_id", flat=True)
            )
            removed += HistorySeries.objects.filter(pk__in=chunkless).delete()[1].get(HistorySeries._meta.label, 0)
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
