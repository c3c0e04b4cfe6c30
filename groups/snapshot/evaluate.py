"""One round's evaluation: from what the round read (and what the last snapshot carried) to snapshot rows.

Pure: no Django, no I/O. The collector reads Kafka and the console's database, hands the facts
here, and stores what comes back. The rules themselves are groups.status (Burrow's status
window), groups.estimates (lag in seconds) and groups.forecasts (retention margin, catch-up);
this module feeds them:

- the status window travels from round to round in the rows' `window` fields: each round
  appends its observation of every group-partition (committed offset) and topic-partition (log
  end) and keeps the last `window_rounds`;
- what every group reading one topic partition shares (its window of log ends, its history and
  the timeline that dates offsets) is worked out once per partition (groups.snapshot.partition_facts);
- a share group is judged on the position its lag implies (groups.snapshot.share_positions).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import cast

from groups import estimates, forecasts, group_status, status
from groups.kafka import TP, SharePartitionOffset
from groups.kafka.collect import ClusterReading, GroupReading
from groups.lag import partition_lag, sum_lags
from groups.planning.streams_topics import is_internal_topic_name
from groups.snapshot import partition_facts, rows, share_positions
from groups.snapshot.partition_facts import PartitionFacts
from groups.snapshot.rows import GroupRow
from groups.snapshot.topic_rows import Readers, TopicRow, topic_rows

_MARGIN_STATES = ("lost", "warning", "ok", forecasts.BEYOND)
# A group that catches up or keeps pace by its catch-up forecast has no margin from retention.ms against the
# rates of a partition it consumes (one from the log start's own advance, records lost, and a stalled
# partition's, whose oldest unread record ages whatever producers do, stay).
_NO_MARGIN_CATCH_UP = ("catching-up", "holding")
_NO_RATES = forecasts.Rates(None, None)
Cause = tuple[str, int, str, str]  # topic, partition, status, the reason the group's page shows


@dataclass(frozen=True)
class Carried:
    """What the served snapshot hands to the next round: its window times and its rows' carried fields."""

    window_ms: tuple[int, ...] = ()
    group_windows: Mapping[str, str] = field(default_factory=dict)  # group id -> SnapshotGroup.window
    topic_windows: Mapping[str, str] = field(default_factory=dict)  # topic -> SnapshotTopic.window
    topic_histories: Mapping[str, str] = field(default_factory=dict)  # topic -> SnapshotTopic.history
    # Records read at committed offsets older than their partition's history (groups.snapshot.dating).
    dated: Mapping[TP, Sequence[estimates.OffsetTime]] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsoleFacts:
    """What the console's own database knows about the groups it sees."""

    replay_operations: Mapping[str, int] = field(default_factory=dict)  # checkpoint group id -> replay op
    # group id -> (operation id, finished at, epoch ms) of this console's offset changes in the window
    moves: Mapping[str, Sequence[tuple[int, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluated:
    window_ms: tuple[int, ...]
    groups: list[GroupRow]
    topics: list[TopicRow]
    partition_count: int
    summary: dict
    # group id -> the partitions that made its status, as (topic, partition, status, reason as shown),
    # for groups neither OK nor unread: what the alert engine names as the cause.
    causes: dict[str, tuple[Cause, ...]] = field(default_factory=dict)


class _Round:
    def __init__(
        self,
        reading: ClusterReading,
        carried: Carried,
        facts: ConsoleFacts,
        *,
        window_rounds: int,
        retention_warning_s: float,
    ):
        self.reading = reading
        self.carried = carried
        self.facts = facts
        self.now_ms = reading.t_ms
        self.window_rounds = window_rounds
        self.window_ms = (*carried.window_ms, reading.t_ms)[-window_rounds:]
        self.keep = len(self.window_ms) - 1
        times = list(self.window_ms)
        full = window_rounds >= 2 and len(times) == window_rounds and times == sorted(set(times))
        # A steady window (status.evaluate_steady) spans the full window; its rates are those of
        # any constant series over the window's times, measured once a round.
        self.steady_span_ms = times[-1] - times[0] if full else None
        self.steady_rates = forecasts.partition_rates([status.Observation(t, 0, 0) for t in times])
        # Times that only go forward make every window of this round continuous in time, which
        # with continuous log ends and offsets lets most partitions skip building their window.
        self.times_increasing = times == sorted(set(times))
        self.undated = 0  # figures the history could not date (groups.snapshot.dating reads their records)
        self.produce_rates: dict[tuple[TP, int], float | None] = {}
        self.still_rates: dict[int, float | None] = {}
        self.per_round: dict[TP, float | None] = {}
        self.retention_warning_s = retention_warning_s
        self.topics, self.partition_facts = partition_facts.of_round(
            reading,
            carried.topic_windows,
            carried.topic_histories,
            carried.dated,
            keep=self.keep,
            window_rounds=window_rounds,
        )

    def facts_of(self, tp: TP) -> PartitionFacts:
        """The shared facts of a partition; a group's commit on a partition the metadata lacks gets defaults."""
        return self.partition_facts.get(tp) or partition_facts.unlisted(self.reading, tp)

    def produce_rate(self, tp: TP, facts: PartitionFacts, rounds: int) -> float | None:
        """The log end's rate over the last `rounds` rounds: the same for every group with that many there."""
        key = (tp, rounds)
        if key not in self.produce_rates:
            start = len(self.window_ms) - rounds
            ends = cast(Sequence[int], facts.ends)  # continuous: no None
            self.produce_rates[key] = forecasts.series_rate(self.window_ms[start:], ends[len(ends) - rounds :])
        return self.produce_rates[key]

    def produced_per_round(self, tp: TP, facts: PartitionFacts) -> float | None:
        """What producers appended to a partition per round over the window (status's "Keeping pace" measure)."""
        if tp not in self.per_round:
            ends = [e for e in facts.ends if e is not None]
            self.per_round[tp] = (ends[-1] - ends[0]) / (len(ends) - 1) if len(ends) > 1 else None
        return self.per_round[tp]

    def consume_rate(self, series: list[int]) -> float | None:
        """The committed offset's rate over a continuous series; a still one (most) is measured once per length."""
        rounds = len(series)
        times = self.window_ms[len(self.window_ms) - rounds :]
        if series.count(series[-1]) != rounds:
            return forecasts.series_rate(times, series)
        if rounds not in self.still_rates:
            self.still_rates[rounds] = forecasts.series_rate(times, [0] * rounds)  # a rate sees differences only
        return self.still_rates[rounds]

    def lag_trend(self, series: list[int], ends: Sequence[int]) -> int:
        """forecasts.lag_trend of a continuous window, over the rounds partition_rates would take."""
        times = self.window_ms[len(self.window_ms) - len(series) :]
        recent = forecasts.RECENT_MS
        first = 0 if recent is None else bisect_left(times, times[-1] - recent)
        lags = [e - c for e, c in zip(ends[len(ends) - len(series) + first :], series[first:], strict=True)]
        return forecasts.lag_trend(lags)

    def observations(self, ends: Sequence[int | None], committed_series: list[int | None]) -> list[status.Observation]:
        """The status window of one group-partition: its committed offsets beside the partition's log ends."""
        count = len(committed_series)
        times = self.window_ms[len(self.window_ms) - count :]
        shift = len(ends) - count
        aligned = ends[shift:] if shift >= 0 else [None] * -shift + list(ends)
        return list(map(status.Observation, times, committed_series, aligned))

    def group_row(
        self, group: GroupReading, share: Sequence[SharePartitionOffset] | None = None
    ) -> tuple[GroupRow, list[tuple[TP, int | None, estimates.LagSeconds]], tuple[Cause, ...]]:
        """A group's row, (partition, lag, lag in seconds) of each partition it has committed on, and
        the partitions that made its status (Evaluated.causes; none when it is OK or was not read).

        A share group's (`share`, its share-partitions) were read into `group.committed` as the positions
        its lag implies (groups.snapshot.share_positions); its rows show the broker's start offsets and lag, and
        the share consumer assigned a partition as its owner, unless several are.
        """
        owners: dict[TP, rows.Owner] = {}
        shared = {p.tp: p for p in share} if share is not None else None  # a share group's, by partition
        held_by_several: set[TP] = set()  # share-partitions several share consumers are assigned: no one owner
        for m in group.members:
            member = rows.Owner(m.member_id, m.client_id, m.host, m.instance_id)  # one per member, not per partition
            for tp in m.assignment:
                if shared is not None and tp in owners:
                    held_by_several.add(tp)
                owners[tp] = member
        previous = rows.decode_window(self.carried.group_windows.get(group.group_id, ""))
        moves = [status.ConsoleMove(op, t) for op, t in self.facts.moves.get(group.group_id, ())]
        detail = rows.GroupDetailWriter()
        lags = []
        window: dict[str, dict[int, list[int | None]]] = {}
        statuses: dict[status.PartitionKey, status.PartitionStatus] = {}
        lag_figures: dict[status.PartitionKey, estimates.LagSeconds] = {}
        margins: dict[TP, forecasts.RetentionMargin] = {}
        by_time: set[TP] = set()  # consumed partitions whose margin is retention.ms against their rates
        lagging: dict[status.PartitionKey, Sequence[status.Observation]] = {}
        lagging_rates: dict[status.PartitionKey, forecasts.Rates] = {}
        committed_lags = []
        shown_reasons: dict[status.PartitionKey, str] = {}
        # Looked up once per group, not per partition: a round runs this loop 100,000 times.
        keep, now_ms, window_rounds = self.keep, self.now_ms, self.window_rounds
        steady_span_ms, shared_facts = self.steady_span_ms, self.partition_facts
        # Continuous windows (status.evaluate_before_trend) need no window built unless the trend
        # rules decide; their rates are measured on the series themselves.
        may_be_continuous = not moves and self.times_increasing
        streams = group.type == "streams"
        memberless = not group.members and shared is None  # a share group's members are not listed here
        committing_outside = False  # memberless, yet its offsets advance (forecasts.memberless_rates)
        ok = status.Status.OK
        for tp in sorted(owners.keys() | group.committed.keys() | (shared or {}).keys()):
            committed = group.committed.get(tp)
            facts = shared_facts.get(tp) or self.facts_of(tp)
            ends = facts.reading
            log_end = ends.log_end
            share_partition = shared.get(tp) if shared is not None else None
            if shared is None:
                lag = partition_lag(committed, log_end)
            else:
                lag = share_partition.lag if share_partition else None
            owner = owners.get(tp)
            before = previous.get(tp.topic, {}).get(tp.partition, ())
            series = [*before[max(0, len(before) - keep) :], committed] if keep else [committed]
            window.setdefault(tp.topic, {})[tp.partition] = series
            owned = 0  # rounds in a row a member has owned it (status.evaluate_partition's owned_rounds)
            if owner is not None:
                held = previous.get(rows.OWNED + tp.topic, {}).get(tp.partition)
                owned = min(window_rounds, (held[0] or 0) + 1 if held else 1)
                window.setdefault(rows.OWNED + tp.topic, {})[tp.partition] = [owned]
            # The shortcuts judge a consumer there through the whole window, or none.
            owned_throughout = owner is None or owned >= len(series)
            steady = (
                steady_span_ms is not None
                and facts.steady_end is not None
                and committed is not None
                and committed >= 0
                and series.count(committed) == window_rounds
                and (owner is None or owned >= window_rounds)
            )
            continuous = (
                not steady
                and may_be_continuous
                and facts.ends_continuous
                and len(facts.ends) >= len(series)
                and None not in series
                and min(cast(list[int], series)) >= 0
            )
            judged_early = None
            if continuous:
                assert committed is not None and log_end is not None
                judged_early = status.evaluate_before_trend(
                    committed, log_end, len(series), window_length=window_rounds
                )
                if judged_early is None and owned_throughout:
                    judged_early = status.evaluate_continuous_trend(
                        self.window_ms[len(self.window_ms) - len(series) :],
                        cast(list[int], series),
                        cast(Sequence[int], facts.ends[len(facts.ends) - len(series) :]),
                        now_ms=now_ms,
                        has_consumer=owner is not None,
                    )
            if steady:
                assert committed is not None and facts.steady_end is not None and steady_span_ms is not None
                judged = status.evaluate_steady(
                    committed, facts.steady_end, span_ms=steady_span_ms, has_consumer=owner is not None
                )
                # What catch_up reads of a window whose rates it is handed: the latest round.
                observed = [status.Observation(now_ms, committed, facts.steady_end)]
            elif judged_early is not None:
                judged = judged_early
                observed = [status.Observation(now_ms, committed, log_end)]
            else:
                observed = self.observations(facts.ends, series)
                judged = status.evaluate_partition(
                    observed,
                    now_ms=now_ms,
                    moves=moves,
                    has_consumer=owner is not None,
                    owned_rounds=owned,
                    window_length=window_rounds,
                )
            figure = estimates.lag_seconds(
                committed=committed,
                log_start=ends.log_start,
                log_end=log_end,
                timeline=facts.timeline,
                now_ms=now_ms,
            )
            if figure.doubtful and estimates.needs_dating(figure.method, figure.doubtful):  # few are doubtful
                # An interpolation is doubtful also because the record is deleted: no read would date it.
                deleted = committed is not None and ends.log_start is not None and committed < ends.log_start
                if figure.method != estimates.INTERPOLATED or not deleted:
                    self.undated += 1
            if share_partition is not None and committed is not None and figure.seconds:
                figure = share_positions.lag_seconds(figure, share_partition.start_offset, committed)
            margin = None
            if committed is not None:
                statuses[tp], lag_figures[tp] = judged, figure
                committed_lags.append((tp, lag, figure))
                rates = _NO_RATES  # rates matter only to unread records; measuring them costs more than the rest
                if lag is not None and lag > 0:
                    lagging[tp] = observed
                    if steady:
                        rates = self.steady_rates
                    elif continuous:
                        rates = forecasts.Rates(
                            self.consume_rate(cast(list[int], series)),
                            self.produce_rate(tp, facts, len(series)),
                            self.lag_trend(cast(list[int], series), cast(Sequence[int], facts.ends)),
                        )
                    else:
                        rates = forecasts.partition_rates(observed)
                    if memberless:
                        rates = forecasts.memberless_rates(rates, series, console_moved=bool(moves))
                        committing_outside |= rates.consume is not None and rates.consume > 0
                    lagging_rates[tp] = rates
                margin = forecasts.retention_margin_by(
                    committed=committed,
                    log_start=ends.log_start,
                    log_end=log_end,
                    # A streams application purges its own repartition topics up to what it committed, so their
                    # log start follows it and stops when it stops: no retention to forecast from.
                    advance=None if streams and is_internal_topic_name(group.group_id, tp.topic) else facts.advance,
                    rates=rates,
                    lag=figure,
                    retention_ms=facts.retention_ms,
                    warn_below_s=self.retention_warning_s,
                    produced_per_round=self.produced_per_round(tp, facts) if lag is not None and lag > 0 else None,
                )
                if margin.state in _MARGIN_STATES:
                    margins[tp] = margin
                    if margin.method == "retention-time" and (rates.consume or 0.0) > 0:
                        by_time.add(tp)
            lags.append(lag)
            if shared is None and committed is not None:
                judged = status.noting_deleted(judged, committed, ends.log_start)
            reason = "" if judged.status is ok else judged.reason
            if shared is not None:  # a share group: a share group's words, or the broker's error
                reason = (share_partition.error if share_partition else None) or share_positions.worded(reason)
            shown_reasons[tp] = reason
            detail.add(
                tp.topic,
                tp.partition,
                committed if shared is None else share_partition.start_offset if share_partition else None,
                ends.log_start,
                log_end,
                lag,
                figure.seconds,
                str(judged.status),  # the value, without Enum's descriptor
                None if tp in held_by_several else owner,
                reason,
                judged.operation_id,
                figure.method,
                figure.doubtful,
                (0.0 if margin.state == "lost" else margin.seconds) if margin else None,
                margin.state if margin else "",
            )
        headline = group_status.evaluate_group(statuses, members=bool(group.members))
        if shared is not None and not statuses:  # nothing read yet: neither fine nor a problem
            headline = replace(headline, status=status.Status.NEW, summary=share_positions.not_started(group.members))
        group_figure = estimates.group_lag_seconds(lag_figures)
        # Only partitions behind decide when the group catches up (none behind: caught up).
        catch = (
            forecasts.catch_up(
                lagging,
                rates_of=lagging_rates,
                consumers=bool(group.members) or shared is not None or committing_outside,
            )
            if statuses
            else None
        )
        if catch is not None and catch.state in _NO_MARGIN_CATCH_UP and by_time:
            margins = {tp: m for tp, m in margins.items() if tp not in by_time}
            detail.clear_margins(by_time)
        worst = min(margins.values(), key=lambda m: 0.0 if m.state == "lost" else m.seconds or 0.0, default=None)
        row = GroupRow(
            group_id=group.group_id,
            state=group.state,
            type=group.type,
            members=len(group.members),
            topics=sorted(detail.topics),
            partitions=len(lags),
            lag=sum_lags(lags),
            detail=detail.text(),
            window=rows.encode_window(window),
            error=group.error,
            replay_operation_id=self.facts.replay_operations.get(group.group_id),
            lag_seconds=group_figure.seconds,
            lag_seconds_method=group_figure.method,
            lag_seconds_doubtful=group_figure.doubtful,
            # A group whose offsets could not be read is not judged: OK would claim what no one saw.
            status="" if group.error else headline.status.value,
            status_reason=group.error or headline.summary,
            operation_id=max(headline.operation_ids, default=None),
            catch_up_seconds=catch.seconds if catch else None,
            catch_up_note=catch.note if catch else "",
            retention_margin_seconds=(0.0 if worst.state == "lost" else worst.seconds) if worst else None,
            retention_note=worst.note if worst else "",
        )
        causes: tuple[Cause, ...] = ()
        if row.status not in ("", ok.value):
            causes = tuple(
                (topic, partition, cause.value, shown_reasons[topic, partition])
                for cause, keys in headline.causes.items()
                for topic, partition in keys
            )
        return row, committed_lags, causes


def evaluate(
    reading: ClusterReading,
    carried: Carried,
    facts: ConsoleFacts,
    *,
    window_rounds: int,
    retention_warning_s: float = 3600.0,
) -> Evaluated:
    """Snapshot rows for every group and topic the round read, each carrying what the next round needs."""
    reading = share_positions.with_share_positions(reading)
    round_ = _Round(reading, carried, facts, window_rounds=window_rounds, retention_warning_s=retention_warning_s)
    readers: Readers = {}
    # topic -> the largest known lag in seconds of a group partition there: kept as the groups go, so the
    # figures of 100,000 partitions are not all held until the topic rows are built.
    worst: dict[str, estimates.LagSeconds] = {}
    groups = []
    causes: dict[str, tuple[Cause, ...]] = {}
    partition_count = 0
    for group_id in sorted(reading.groups):
        group = reading.groups[group_id]
        share = reading.share_offsets.get(group_id, ()) if group.type == "share" else None
        row, committed_lags, group_causes = round_.group_row(group, share)
        groups.append(row)
        if group_causes:
            causes[group_id] = group_causes
        partition_count += row.partitions
        checkpoint = group_id in facts.replay_operations
        for tp, lag, figure in committed_lags:
            readers.setdefault(tp.topic, {}).setdefault(group_id, []).append(lag)
            if figure.seconds is not None and not checkpoint:
                known = worst.get(tp.topic)
                if known is None or figure.seconds > (known.seconds or 0.0):
                    worst[tp.topic] = figure
    statuses = {row.group_id: row.status for row in groups}
    topics = topic_rows(reading, round_.topics, readers, worst, statuses, checkpoints=facts.replay_operations.keys())
    summary = {
        "by_state": dict(Counter(g.state for g in groups)),
        "by_type": dict(Counter(g.type for g in groups)),
        "by_status": dict(Counter(g.status for g in groups if g.status)),
        "unreadable_groups": sum(1 for g in groups if g.error),
        "undated_offsets": round_.undated,
        "notes": list(reading.notes),
        # Shown on the cluster's overview; None when this round could not read it (a note says why).
        "cluster": asdict(reading.cluster) if reading.cluster else None,
    }
    return Evaluated(
        window_ms=round_.window_ms,
        groups=groups,
        topics=topics,
        partition_count=partition_count,
        summary=summary,
        causes=causes,
    )
