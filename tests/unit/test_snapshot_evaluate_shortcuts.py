"""The evaluation's shortcuts for continuous windows give what the full rules give.

A continuous window (times, offsets and log ends that never go back, nothing unknown, no console
move) is judged by status.evaluate_before_trend without building it, and its rates are measured
on the series themselves (forecasts.series_rate). Here random windows and random rounds compare
the shortcuts with status.evaluate_partition, forecasts.partition_rates and a whole evaluation
that never takes the status shortcut.
"""

import random
from collections import Counter

import pytest

from groups import forecasts, status
from groups.kafka import TP, Member
from groups.kafka.collect import ClusterReading, GroupReading, PartitionReading, TopicReading
from groups.snapshot import evaluate as evaluation
from groups.snapshot.evaluate import Carried, ConsoleFacts, evaluate


def _continuous_window(rng: random.Random, rounds: int) -> list[status.Observation]:
    t, committed, end = 1_700_000_000_000, rng.randint(0, 50), rng.randint(0, 80)
    window = []
    for _ in range(rounds):
        t += rng.choice([1, 15_000, 15_000, 40_000])
        end += rng.choice([0, 0, rng.randint(1, 30)])
        committed = rng.choice([committed, committed, min(end + rng.choice([0, 0, 2]), committed + rng.randint(0, 40))])
        window.append(status.Observation(t, committed, end))
    return window


def test_a_continuous_window_is_judged_before_its_trend_rules_as_the_full_rules_judge_it():
    rng = random.Random(7)
    outcomes: Counter[str] = Counter()
    for _ in range(5_000):
        length = rng.randint(1, 8)
        window = _continuous_window(rng, rng.randint(1, length))
        latest = window[-1]
        has_consumer = rng.random() < 0.5
        full = status.evaluate_partition(window, now_ms=latest.t_ms, has_consumer=has_consumer, window_length=length)
        assert latest.committed is not None and latest.log_end is not None
        early = status.evaluate_before_trend(latest.committed, latest.log_end, len(window), window_length=length)
        if early is None:
            # Left to the trend rules: a complete window behind the log end.
            assert len(window) >= max(2, length) and latest.committed < latest.log_end
            outcomes["trend"] += 1
        else:
            assert early == full
            outcomes[early.status] += 1
    assert outcomes["trend"] > 500 and outcomes[status.Status.AHEAD] > 50
    assert outcomes[status.Status.OK] > 500 and outcomes[status.Status.NEW] > 500


def test_a_continuous_window_left_to_the_trend_rules_is_judged_from_its_series_as_the_full_rules_judge_it():
    rng = random.Random(11)
    outcomes: Counter[str] = Counter()
    for _ in range(20_000):
        length = rng.randint(2, 8)
        window = _continuous_window(rng, length)
        latest = window[-1]
        assert latest.committed is not None and latest.log_end is not None
        if status.evaluate_before_trend(latest.committed, latest.log_end, length, window_length=length) is not None:
            continue
        if rng.random() < 0.1:  # an offset that went back and did not recover: left to the full rules
            back = rng.randrange(length - 1)
            window[back] = window[back]._replace(committed=latest.committed + rng.randint(1, 20))
        has_consumer = rng.random() < 0.5
        now_ms = latest.t_ms + rng.choice([0, 0, 5_000])
        full = status.evaluate_partition(window, now_ms=now_ms, has_consumer=has_consumer, window_length=length)
        times, offsets, ends = (list(series) for series in zip(*window, strict=True))
        quick = status.evaluate_continuous_trend(times, offsets, ends, now_ms=now_ms, has_consumer=has_consumer)
        if quick is None:
            assert offsets != sorted(offsets)
            outcomes["left"] += 1
        else:
            assert quick == full
            outcomes[quick.status] += 1
    for seen in (status.Status.OK, status.Status.WARN, status.Status.STALL, status.Status.STOP, "left"):
        assert outcomes[seen] > 100, outcomes


def test_rates_measured_on_the_series_equal_those_of_the_window():
    rng = random.Random(3)
    for n in range(3_000):
        t, committed, end = 1_700_000_000_000, 0, 0
        window = []
        for _ in range(rng.randint(1, 12)):
            # Older than recent_ms, the clock going back or standing still; counters that only grow
            # (the usual case) in half the windows, at random in the others.
            t += rng.choice([15_000, 15_000, 60_000, 200_000, 0, -30_000] if n % 4 == 0 else [15_000, 60_000, 200_000])
            if n % 2:
                committed, end = rng.randint(0, 500), rng.randint(0, 500)
            else:
                committed, end = committed + rng.randint(0, 50), end + rng.randint(0, 50)
            window.append(status.Observation(t, committed, end))
        times = [o.t_ms for o in window]
        expected = forecasts.partition_rates(window)
        assert forecasts.series_rate(times, [o.committed for o in window]) == expected.consume
        assert forecasts.series_rate(times, [o.log_end for o in window]) == expected.produce


class _World:
    """Mostly continuous rounds: producers and consumers at random rates, quiet stretches, rewinds,
    commits past the log end, groups coming and going, an occasional console reset."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.t_ms = 1_700_000_000_000
        self.topics = {f"t{n}": TopicReading(f"t{n}", 3, False, rng.choice([None, 600_000])) for n in range(3)}
        self.ends = {TP(t, p): [0, rng.randint(0, 300)] for t in self.topics for p in range(3)}
        self.committed = {
            f"g{n}": {tp: rng.randint(0, end) for tp, (_, end) in self.ends.items() if rng.random() < 0.5}
            for n in range(10)
        }
        self.moves: dict[str, list[tuple[int, int]]] = {}
        self.quiet = 0

    def advance(self) -> None:
        rng = self.rng
        self.t_ms += rng.choice([15_000] * 20 + [0, 14_000])
        if self.quiet == 0 and rng.random() < 0.1:
            self.quiet = rng.randint(2, 8)
        if self.quiet:
            self.quiet -= 1
            return
        for ends in self.ends.values():
            ends[1] += rng.choice([0, 0, rng.randint(1, 40)])
            if rng.random() < 0.05:
                ends[0] = min(ends[1], ends[0] + rng.randint(1, 60))
        for group_id, committed in self.committed.items():
            for tp in list(committed):
                event = rng.random()
                if event < 0.4:
                    committed[tp] = min(self.ends[tp][1], committed[tp] + rng.randint(0, 50))
                elif event < 0.42:
                    committed[tp] = max(0, committed[tp] - rng.randint(1, 30))
                elif event < 0.43:
                    committed[tp] = self.ends[tp][1] + 2
                elif event < 0.44:
                    committed[tp] = 0
                    self.moves.setdefault(group_id, []).append((len(self.moves) + 1, self.t_ms))

    def reading(self) -> ClusterReading:
        groups = {}
        for group_id, committed in self.committed.items():
            owned = [tp for tp in committed if self.rng.random() < 0.4]
            members = (Member(f"{group_id}-m", "app", "/10.0.0.1", None, tuple(owned)),) if owned else ()
            groups[group_id] = GroupReading(
                group_id, "Stable" if owned else "Empty", "consumer", members, dict(committed)
            )
        partitions = {
            tp: PartitionReading(start, end, end - 1 if end else None, self.t_ms - 1_000 if end else None)
            for tp, (start, end) in self.ends.items()
        }
        return ClusterReading(t_ms=self.t_ms, groups=groups, topics=dict(self.topics), partitions=partitions)


def _rounds(seed: int) -> list[tuple[ClusterReading, ConsoleFacts]]:
    world = _World(random.Random(seed))
    out = []
    for _ in range(30):
        world.advance()
        out.append((world.reading(), ConsoleFacts(moves={g: list(m) for g, m in world.moves.items()})))
    return out


def _evaluate_all(rounds: list[tuple[ClusterReading, ConsoleFacts]]) -> list[evaluation.Evaluated]:
    carried, out = Carried(), []
    for reading, facts in rounds:
        evaluated = evaluate(reading, carried, facts, window_rounds=6)
        out.append(evaluated)
        carried = Carried(
            window_ms=evaluated.window_ms,
            group_windows={g.group_id: g.window for g in evaluated.groups},
            topic_windows={t.topic: t.window for t in evaluated.topics},
            topic_histories={t.topic: t.history for t in evaluated.topics},
        )
    return out


@pytest.mark.parametrize("seed", range(4))
def test_every_row_of_random_rounds_is_what_the_evaluation_without_the_status_shortcut_writes(seed, monkeypatch):
    rounds = _rounds(seed)
    taken: Counter[str] = Counter()
    before_trend, continuous_trend = status.evaluate_before_trend, status.evaluate_continuous_trend

    def counted(*args, **kwargs):
        judged = before_trend(*args, **kwargs)
        taken["shortcut" if judged is not None else "trend rules"] += 1
        return judged

    def counted_trend(*args, **kwargs):
        judged = continuous_trend(*args, **kwargs)
        taken[judged.status if judged is not None else "rewound"] += 1
        return judged

    monkeypatch.setattr(evaluation.status, "evaluate_before_trend", counted)
    monkeypatch.setattr(evaluation.status, "evaluate_continuous_trend", counted_trend)
    fast = _evaluate_all(rounds)
    monkeypatch.setattr(evaluation.status, "evaluate_before_trend", lambda *args, **kwargs: None)
    monkeypatch.setattr(evaluation.status, "evaluate_continuous_trend", lambda *args, **kwargs: None)
    full = _evaluate_all(rounds)

    assert fast == full
    # Both the shortcut and the windows it leaves to the trend rules were met, many times, and the
    # trend rules' own shortcut judged most of them, or left a rewound window to the full rules; a
    # window whose consumer took the partition within it goes to the full rules without it.
    assert taken["shortcut"] > 100 and taken["trend rules"] > 100
    judged = sum(taken[s] for s in status.Status)
    assert 100 < judged <= taken["trend rules"] - taken["rewound"]
