"""The round's evaluation gives, for every partition, what the plain per-partition rules give.

evaluate() takes shortcuts for speed (facts shared per topic partition, windows checked by
builtins, caught-up figures shared). Here random scenarios full of discontinuities (clock steps
back, repeated round times, recreated topics, deleted commits, rewinds, console resets, members
coming and going, unknown log ends, records lost to retention) run round after round, and every
partition's stored figures are compared with status.evaluate_partition, estimates.lag_seconds and
forecasts.retention_margin called on the window and history the round stored; and the partitions
each group's status names as its cause are those group_status.evaluate_group finds.
"""

import random
from collections import Counter

from groups import estimates, forecasts, group_status, status
from groups.kafka import TP, Member
from groups.kafka.collect import ClusterReading, GroupReading, PartitionReading, TopicReading
from groups.snapshot import rows, timelines
from groups.snapshot.evaluate import Carried, ConsoleFacts, evaluate

WINDOW = 5


class _World:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.t_ms = 1_700_000_000_000
        self.topics = {
            f"t{n}": TopicReading(f"t{n}", rng.randint(1, 3), False, rng.choice([None, -1, 60_000, 3_600_000]))
            for n in range(3)
        }
        self.ends = {
            TP(t, p): [0, rng.randint(0, 500)] for t, topic in self.topics.items() for p in range(topic.partitions)
        }
        self.committed = {
            f"g{n}": {tp: rng.randint(0, ends[1]) for tp, ends in self.ends.items() if rng.random() < 0.6}
            for n in range(8)
        }
        self.moves: dict[str, list[tuple[int, int]]] = {}
        self.next_operation = 1
        self.quiet_rounds = 0

    def advance(self) -> None:
        rng = self.rng
        step = rng.choice([15_000] * 8 + [0, -30_000, 14_000, 16_500])  # repeated times and a clock stepping back
        self.t_ms += step
        # Quiet stretches longer than the window: nothing produced or committed (steady windows).
        if self.quiet_rounds == 0 and rng.random() < 0.1:
            self.quiet_rounds = rng.randint(WINDOW, 2 * WINDOW)
        if self.quiet_rounds:
            self.quiet_rounds -= 1
            return
        for ends in self.ends.values():
            event = rng.random()
            if event < 0.05:
                ends[:] = [0, rng.randint(0, 20)]  # recreated
            elif event < 0.45:
                ends[1] += rng.randint(1, 60)
            if rng.random() < 0.1:
                ends[0] = min(ends[1], ends[0] + rng.randint(1, 80))  # retention deletes from the start
        for group_id, committed in self.committed.items():
            for tp in list(committed):
                end = self.ends[tp][1]
                event = rng.random()
                if event < 0.3:
                    committed[tp] = min(end, committed[tp] + rng.randint(0, 70))
                elif event < 0.38:
                    committed[tp] = end
                elif event < 0.42:
                    committed[tp] = max(0, committed[tp] - rng.randint(1, 50))  # rewind
                elif event < 0.44:
                    committed[tp] = end + 3  # past the end
                elif event < 0.46:
                    del committed[tp]  # offsets deleted
                elif event < 0.48:
                    committed[tp] = 0
                    self.moves.setdefault(group_id, []).append((self.next_operation, self.t_ms))
                    self.next_operation += 1
            for tp in self.ends:
                if tp not in committed and rng.random() < 0.05:
                    committed[tp] = rng.randint(0, self.ends[tp][1])

    def reading(self) -> ClusterReading:
        rng = self.rng
        groups = {}
        for group_id, committed in self.committed.items():
            owned = [tp for tp in self.ends if rng.random() < 0.5]
            members = tuple(
                Member(f"{group_id}-m{m}", f"app-{m}", f"/10.0.0.{m}", None, tuple(owned[m::2])) for m in range(2)
            )
            groups[group_id] = GroupReading(
                group_id,
                "Stable" if owned else "Empty",
                "consumer",
                members if owned else (),
                dict(committed),
                error="GROUP_AUTHORIZATION_FAILED" if rng.random() < 0.03 else "",
            )
        partitions = {}
        for tp, (start, end) in self.ends.items():
            if rng.random() < 0.04:
                partitions[tp] = PartitionReading(None, None)
            elif end > start and rng.random() < 0.7:
                partitions[tp] = PartitionReading(start, end, end - 1, self.t_ms - rng.randint(0, 40_000))
            else:
                partitions[tp] = PartitionReading(start, end)
        return ClusterReading(t_ms=self.t_ms, groups=groups, topics=dict(self.topics), partitions=partitions)


def _expected_observations(window_ms, series, ends):
    times = window_ms[len(window_ms) - len(series) :]
    shift = len(ends) - len(series)
    return [
        status.Observation(t, c, ends[i + shift] if i + shift >= 0 else None)
        for i, (t, c) in enumerate(zip(times, series, strict=True))
    ]


def _check_round(reading, evaluated, facts, owned):
    """`owned`: (group, partition) -> rounds in a row a member owned it, kept by the test itself."""
    now = reading.t_ms
    checked: Counter[str] = Counter()
    topic_windows = {t.topic: rows.decode_window(t.window).get(t.topic, {}) for t in evaluated.topics}
    histories = {t.topic: timelines.decode(t.history) for t in evaluated.topics}
    for row in evaluated.groups:
        group = reading.groups[row.group_id]
        owners = {tp: m.client_id for m in group.members for tp in m.assignment}
        window = rows.decode_window(row.window)
        moves = [status.ConsoleMove(op, t) for op, t in facts.moves.get(row.group_id, ())]
        statuses, figures, windows, lagging_rates, margins = {}, {}, {}, {}, []
        stored, expected, margin_of = {}, {}, {}
        for d in rows.decode_group_detail(row.detail):
            tp = TP(d.topic, d.partition)
            ends = reading.partitions.get(tp, PartitionReading(None, None))
            assert (d.committed, d.log_start, d.log_end) == (group.committed.get(tp), ends.log_start, ends.log_end)
            assert (d.owner.client_id if d.owner else None) == owners.get(tp)
            observed = _expected_observations(
                evaluated.window_ms, window[d.topic][d.partition], topic_windows.get(d.topic, {}).get(d.partition, [])
            )
            held = owned.get((row.group_id, tp), 0)
            judged = status.evaluate_partition(
                observed,
                now_ms=now,
                moves=moves,
                has_consumer=tp in owners,
                owned_rounds=held,
                window_length=WINDOW,
            )
            checked["taken within the window"] += tp in owners and held < len(observed)
            if d.committed is not None:
                judged = status.noting_deleted(judged, d.committed, ends.log_start)
            history = histories.get(d.topic, {}).get(d.partition, [])
            figure = estimates.lag_seconds(
                committed=d.committed,
                log_start=ends.log_start,
                log_end=ends.log_end,
                timeline=estimates.timeline_from_history(history),
                now_ms=now,
            )
            assert (d.status, d.status_reason, d.operation_id) == (
                judged.status.value,
                "" if judged.status is status.Status.OK else judged.reason,
                judged.operation_id,
            )
            assert (d.lag_seconds, d.lag_seconds_method, d.lag_seconds_doubtful) == (
                figure.seconds,
                figure.method,
                figure.doubtful,
            )
            if d.committed is None:
                assert (d.retention_seconds, d.retention_state) == (None, "")
                continue
            lagging = d.lag is not None and d.lag > 0
            rates = _rates(observed, bool(group.members), window[d.topic][d.partition], bool(moves))
            topic = reading.topics.get(d.topic)
            known_ends = [e for e in topic_windows.get(d.topic, {}).get(d.partition, []) if e is not None]
            per_round = (known_ends[-1] - known_ends[0]) / (len(known_ends) - 1) if len(known_ends) > 1 else None
            margin = forecasts.retention_margin(
                committed=d.committed,
                log_start=ends.log_start,
                log_end=ends.log_end,
                history=history,
                rates=rates if lagging else forecasts.Rates(None, None),
                lag=figure,
                retention_ms=topic.retention_ms if topic else None,
                produced_per_round=per_round if lagging else None,
            )
            stored[tp] = (d.retention_seconds, d.retention_state)
            expected[tp] = margin
            statuses[tp], figures[tp] = judged, figure
            if lagging:
                windows[tp], lagging_rates[tp] = observed, rates
            if margin.state in ("lost", "warning", "ok", "beyond"):
                margins.append(margin)
                margin_of[tp] = margin
            checked[judged.status] += 1
            if _steady(observed):
                checked["steady"] += 1
        headline = group_status.evaluate_group(statuses, members=bool(group.members))
        group_figure = estimates.group_lag_seconds(figures)
        # Memberless yet committing: a client outside the group's membership consumes.
        outside = any(r.consume for r in lagging_rates.values())
        catch = (
            forecasts.catch_up(windows, rates_of=lagging_rates, consumers=bool(group.members) or outside)
            if statuses
            else None
        )
        assert (row.status, row.status_reason) == (
            ("", group.error) if group.error else (headline.status.value, headline.summary)
        )
        assert (row.lag_seconds, row.lag_seconds_method, row.lag_seconds_doubtful) == (
            group_figure.seconds,
            group_figure.method,
            group_figure.doubtful,
        )
        assert (row.catch_up_seconds, row.catch_up_note) == ((catch.seconds, catch.note) if catch else (None, ""))
        # A group catching up or keeping pace has no margin from retention.ms against its rates.
        if catch is not None and catch.state in ("catching-up", "holding"):
            cleared = {
                tp
                for tp, m in expected.items()
                if m.method == "retention-time"
                and m.state in ("warning", "ok", "beyond")
                and (lagging_rates.get(tp, forecasts.Rates(None, None)).consume or 0) > 0
            }
            margins = [m for tp, m in margin_of.items() if tp not in cleared]
            for tp in cleared:
                expected[tp] = expected[tp]._replace(state="", seconds=None)
            checked["margin cleared by catch-up"] += len(cleared)
        for tp, m in expected.items():
            assert stored[tp] == (0.0 if m.state == "lost" else m.seconds, m.state)
            checked["beyond retention"] += m.state == "beyond"
        worst = min(margins, key=lambda m: 0.0 if m.state == "lost" else m.seconds or 0.0, default=None)
        assert row.retention_note == (worst.note if worst else "")
        # What the alert engine names as the cause: the partitions behind the headline, as the page words them.
        named = () if row.status in ("", status.Status.OK.value) else headline.causes.items()
        assert evaluated.causes.get(row.group_id, ()) == tuple(
            (tp.topic, tp.partition, cause.value, statuses[tp].reason) for cause, keys in named for tp in keys
        )
        checked["causes"] += bool(named)
    return checked


def _steady(observed):
    times = [o.t_ms for o in observed]
    return (
        len(observed) == WINDOW
        and times == sorted(set(times))
        and len({(o.committed, o.log_end) for o in observed}) == 1
        and observed[0].log_end is not None
    )


def test_every_partition_of_random_scenarios_gets_what_the_plain_rules_give():
    checked: Counter[str] = Counter()
    for seed in range(5):
        world = _World(random.Random(seed))
        carried, owned = Carried(), {}
        for _ in range(40):
            world.advance()
            reading = world.reading()
            facts = ConsoleFacts(moves={g: list(m) for g, m in world.moves.items()})
            evaluated = evaluate(reading, carried, facts, window_rounds=WINDOW)
            owned = {
                (g.group_id, tp): min(WINDOW, owned.get((g.group_id, tp), 0) + 1)
                for g in reading.groups.values()
                for m in g.members
                for tp in m.assignment
            }
            checked.update(_check_round(reading, evaluated, facts, owned))
            carried = Carried(
                window_ms=evaluated.window_ms,
                group_windows={g.group_id: g.window for g in evaluated.groups},
                topic_windows={t.topic: t.window for t in evaluated.topics},
                topic_histories={t.topic: t.history for t in evaluated.topics},
            )
    # The scenarios reach every partition status and many steady windows (status.evaluate_steady),
    # so no shortcut goes unchecked.
    assert set(status.Status) - {status.Status.ERR} <= set(checked)
    assert checked["steady"] > 500
    assert checked["causes"] > 50
    assert checked["taken within the window"] > 100
    # Margins beyond the topic's retention, and margins of partitions a catching-up group consumes, cleared.
    assert checked["beyond retention"] > 20
    assert checked["margin cleared by catch-up"] > 10


def _rates(observed, has_members: bool, committed, console_moved: bool) -> forecasts.Rates:
    rates = forecasts.partition_rates(observed)
    return rates if has_members else forecasts.memberless_rates(rates, committed, console_moved=console_moved)
