"""Lag status of a group's partitions over a sliding window of collection rounds.

The rules are Burrow's (its current evaluator code, not its older wiki), in Burrow's order:
no commit or an incomplete window -> OK; lag within the allowed lag -> OK; STOP; REWIND;
then, when every lag in the window exceeds the allowed lag, STALL (offset never moved) or
WARN (lag never went down); otherwise OK. A group's status from its partitions' is in
groups.group_status.

Burrow sees every commit as an event with its commit time; this console samples the committed
offset once per collection round instead, so the window is the last `window_length` rounds and
the rules are fed as follows:

- When nobody consumes the partition (`has_consumer=False`), consecutive rounds that saw the
  same committed offset collapse into one commit that keeps the earliest round's time: the
  first round that saw an offset stands in for its commit time (within one collection period).
  A group that no longer commits then trips Burrow's STOP rule, as it would in Burrow.
- When a live member owns the partition, every round counts as a commit of what it saw, the
  way a consumer's periodic auto-commit re-commits an unchanged position: a consumer that is
  there but does not move trips STALL, not STOP. This is the distinction Burrow draws between
  a consumer that stopped committing and one that commits without progress. Only the rounds the
  member has owned the partition count so (`owned_rounds`): a consumer that took a stopped
  partition within the window is not blamed for the window before it, and one that has not moved
  it since is NEW until it has owned it through a whole window, as a group first seen is (a
  consumer that commits every 30 s, or restores state first, is not called stalled at once).
- A commit's lag is its round's log end minus its offset, never below 0, measured when it was
  first seen (a collapsed commit keeps its first round's lag, as Burrow keeps the lag measured
  when a commit arrived). STALL and WARN compare commits, so they need two of them.

Three statuses are this console's own:

- NEW: behind, but the window is not full yet (a group or partition first seen, or a window
  restarted): too few rounds to tell a consumer that keeps up from one that stopped. Burrow calls
  such a partition OK; a green OK would claim what no round has shown. A caught-up partition is
  OK at once.

- RESET: the committed offset changed between two rounds of the window around the time this
  console's own reset, undo or replay finished on the group. It is shown instead of every
  Burrow rule while that change is in the window (the window mixes two histories), so a reset
  to earliest never reads as REWIND. Once the change leaves the window the rules apply again.
- AHEAD: the committed offset is past the log end. The topic was recreated or truncated; the
  group's consumers will get OFFSET_OUT_OF_RANGE and restart where auto.offset.reset says.

The window restarts (older rounds dropped) where the log end went down (a recreated or
truncated topic is another log), where the collector's clock stepped back (times on either
side cannot be compared) and after a round with no committed offset (offsets deleted or expired).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import NamedTuple

from groups.chart_scales import duration_text

PartitionKey = tuple[str, int]
"""(topic, partition); `groups.kafka.TP` is one."""

# The worker stamps an operation after it has read its commit back, so a round may see the new
# offset a little before the operation's time.
MOVE_CLOCK_SLACK_MS = 5_000


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    ERR = "ERR"
    STOP = "STOP"
    STALL = "STALL"
    REWIND = "REWIND"
    RESET = "RESET"
    AHEAD = "AHEAD"
    NEW = "NEW"


class Observation(NamedTuple):
    """What one collection round saw for one partition of one group.

    A tuple: the collector builds ten per group partition per round, and a frozen dataclass
    costs five times as much to build.
    """

    t_ms: int
    committed: int | None
    log_end: int | None


@dataclass(frozen=True)
class ConsoleMove:
    """An offset change this console made to the group (reset, undo, replay)."""

    operation_id: int
    t_ms: int


def _collecting(rounds: int, window_length: int, lag: int, restart_note: str = "") -> PartitionStatus:
    """NEW: a partition behind the log end whose window is still filling."""
    return PartitionStatus(
        Status.NEW,
        f"Not judged yet: {rounds} of {window_length} rounds seen{restart_note}; {lag:,} messages wait.",
    )


class PartitionStatus(NamedTuple):  # a tuple: a round builds one or more per partition, 2x cheaper
    status: Status
    reason: str
    operation_id: int | None = None


class _Commit(NamedTuple):  # a tuple: the collector builds ten per partition per round
    t_ms: int
    offset: int
    lag: int


def evaluate_partition(
    window: Sequence[Observation],
    *,
    now_ms: int,
    allowed_lag: int = 0,
    moves: Sequence[ConsoleMove] = (),
    has_consumer: bool = False,
    owned_rounds: int | None = None,
    window_length: int = 10,
    minimum_complete: float = 1.0,
) -> PartitionStatus:
    """Status of one partition of one group from its recent rounds, oldest first.

    `has_consumer`: a live member owns the partition in the latest round; `owned_rounds`: in how
    many of the latest rounds in a row one did (None: all of them). `minimum_complete`:
    the share of `window_length` rounds needed before any trend rule is applied; Burrow's
    default is 0, but then a console that just started calls every lagging group STOP or STALL
    after two rounds, so the default waits for a full window. The window (`window_length` times
    the collection period) should span at least twice the slowest consumer's commit interval,
    or a group nobody owns reads as STOP between two of its commits.
    """
    rounds, restart_note = _usable_rounds(window, window_length)
    if not rounds:
        return PartitionStatus(Status.OK, "No committed offset.")
    latest = rounds[-1]
    committed = latest.committed
    assert committed is not None
    log_end = _latest_log_end(rounds)
    if log_end is None:
        return PartitionStatus(Status.OK, "Log end unknown; cannot judge the lag.")
    if committed > log_end:
        return _ahead(committed, log_end)
    reset = _console_reset(rounds, moves)
    if reset is not None:
        return reset
    lag = log_end - committed
    if lag <= allowed_lag:
        return PartitionStatus(Status.OK, _within_allowed(lag, allowed_lag))
    if len(rounds) < max(2, minimum_complete * window_length):
        return _collecting(len(rounds), window_length, lag, restart_note)
    owned = (len(rounds) if owned_rounds is None else min(owned_rounds, len(rounds))) if has_consumer else 0
    return _burrow_trend_rules(
        rounds, _commits(rounds, owned), now_ms=now_ms, lag=lag, allowed_lag=allowed_lag, owned=owned
    )


def _usable_rounds(window: Sequence[Observation], window_length: int) -> tuple[list[Observation], str]:
    """The last rounds since the latest discontinuity; duplicate times keep the newer round."""
    recent = list(window)[-window_length:]
    if _continuous(recent):
        return recent, ""
    rounds: list[Observation] = []
    note = ""
    for obs in recent:
        previous = rounds[-1] if rounds else None
        if obs.committed is None or obs.committed < 0:
            rounds, note = [], " since the committed offset came back"
            continue
        if previous is not None and obs.t_ms < previous.t_ms:
            rounds, note = [], " since the collector's clock went back"
        elif previous is not None and _log_end_went_down(previous, obs):
            rounds, note = [], " since the log end went down (topic recreated or truncated)"
        elif previous is not None and obs.t_ms == previous.t_ms:
            rounds.pop()
        rounds.append(obs)
    return rounds, note


def _continuous(rounds: list[Observation]) -> bool:
    """No discontinuity at all, the usual case, told by C-speed builtins rather than the loop below."""
    times, committed, ends = zip(*rounds, strict=True) if rounds else ((), (), ())
    return (
        None not in committed
        and (not committed or min(committed) >= 0)
        and None not in ends
        and list(ends) == sorted(ends)
        and list(times) == sorted(set(times))
    )


def _log_end_went_down(before: Observation, after: Observation) -> bool:
    return before.log_end is not None and after.log_end is not None and after.log_end < before.log_end


def _latest_log_end(rounds: Sequence[Observation]) -> int | None:
    return next((obs.log_end for obs in reversed(rounds) if obs.log_end is not None), None)


def _ahead(committed: int, log_end: int) -> PartitionStatus:
    return PartitionStatus(
        Status.AHEAD,
        f"Committed offset {committed} is past the log end {log_end}: the topic was recreated or "
        "truncated. The group's consumers will get OFFSET_OUT_OF_RANGE and restart where their "
        "auto.offset.reset says (earliest re-reads the topic, latest skips what is there).",
    )


def _console_reset(rounds: Sequence[Observation], moves: Sequence[ConsoleMove]) -> PartitionStatus | None:
    """RESET for the latest offset change in the window that one of the console's moves explains."""
    if not moves:
        return None
    for before, after in reversed(list(pairwise(rounds))):
        if before.committed == after.committed:
            continue
        move = _move_between(moves, before.t_ms, after.t_ms)
        if move is not None:
            return PartitionStatus(
                Status.RESET,
                f"Reset by operation #{move.operation_id}: offset {before.committed} → {after.committed}.",
                operation_id=move.operation_id,
            )
    return None


def _move_between(moves: Sequence[ConsoleMove], after_ms: int, until_ms: int) -> ConsoleMove | None:
    inside = [m for m in moves if after_ms < m.t_ms <= until_ms + MOVE_CLOCK_SLACK_MS]
    return max(inside, key=lambda m: m.t_ms) if inside else None


def _within_allowed(lag: int, allowed_lag: int) -> str:
    if lag <= 0:
        return "Caught up."
    return f"Lag {lag:,} is within the allowed {allowed_lag:,}."


def _commits(rounds: Sequence[Observation], owned: int) -> list[_Commit]:
    """Burrow's ring of commits, built from rounds as the module docstring explains: the last `owned`
    rounds each a commit, the rounds before them collapsed."""
    split = len(rounds) - owned
    # The window holds committed offsets only (_usable_rounds): never None here.
    owned_commits = [_Commit(t, c, max(0, (c if e is None else e) - c)) for t, c, e in rounds[split:]]  # type: ignore[arg-type, operator]
    if split == 0:
        return owned_commits
    commits: list[_Commit] = []
    for obs in rounds[:split]:
        assert obs.committed is not None
        log_end = obs.log_end if obs.log_end is not None else obs.committed
        commit = _Commit(obs.t_ms, obs.committed, max(0, log_end - obs.committed))
        if commits and commits[-1].offset == commit.offset:
            continue
        commits.append(commit)
    return commits + owned_commits


def _burrow_trend_rules(
    rounds: Sequence[Observation], commits: Sequence[_Commit], *, now_ms: int, lag: int, allowed_lag: int, owned: int
) -> PartitionStatus:
    first, last = commits[0], commits[-1]
    now_ms = max(now_ms, rounds[-1].t_ms)
    silent_ms = now_ms - last.t_ms
    if silent_ms > last.t_ms - first.t_ms and not _recently_caught_up(rounds, last.offset):
        return _stop(silent_ms, lag, last.offset, whole_window=last.t_ms <= rounds[0].t_ms)
    rewind = _unrecovered_rewind(commits)
    if rewind is not None:
        return PartitionStatus(
            Status.REWIND,
            f"The committed offset went back from {rewind[0]} to {rewind[1]} and has not recovered; "
            "no operation of this console explains it.",
        )
    if len(commits) > 1 and all(c.lag > allowed_lag for c in commits):
        if all(c.offset == first.offset for c in commits):
            if owned >= len(rounds):
                return _stall(first.offset, last.t_ms - first.t_ms, lag)
            return _taken_recently(first.offset, last.t_ms - rounds[-owned].t_ms, lag)
        if all(b.lag >= a.lag for a, b in pairwise(commits)):
            ends = [o.log_end for o in rounds if o.log_end is not None]
            return _warn(first.lag, last.lag, _per_round(ends))
    return PartitionStatus(Status.OK, f"Consuming; lag {lag:,}.")


def _per_round(ends: Sequence[int]) -> float | None:
    """What producers appended per round over a window's log ends, oldest first (None for fewer than two)."""
    return (ends[-1] - ends[0]) / (len(ends) - 1) if len(ends) > 1 else None


def _warn(first_lag: int, last_lag: int, produced_per_round: float | None) -> PartitionStatus:
    """Burrow's WARN: the lag did not go down in any round of the window (it may have held); unless it is
    within what producers append in one round. Burrow sees each commit with the lag of its moment, and a
    consumer at the head of a busy log commits at lag 0 now and then; sampled once a round, the same
    consumer is always a few records behind, a lag that never goes down though it keeps pace."""
    if produced_per_round is not None and last_lag <= produced_per_round:
        return PartitionStatus(
            Status.OK,
            f"Keeping pace: lag {last_lag:,}, within what producers write in a round ({produced_per_round:,.0f}).",
        )
    if first_lag == last_lag:
        return PartitionStatus(
            Status.WARN, f"Lag held at {last_lag:,} through the window: the consumer does not gain on producers."
        )
    return PartitionStatus(Status.WARN, f"Lag never went down in the window: from {first_lag:,} to {last_lag:,}.")


def _stop(silent_ms: int, lag: int, offset: int, *, whole_window: bool) -> PartitionStatus:
    """STOP's reason. `whole_window`: the offset was already there at the window's first round, so the
    window only bounds the silence from below (the lag in seconds says how old the waiting record is)."""
    silence = (
        f"No commit through the whole status window ({_seconds(silent_ms)}; it may have stopped long before): "
        f"the committed offset stayed at {offset}"
        if whole_window
        else f"No commit for {_seconds(silent_ms)}, longer than the commits before it spanned; offset {offset}"
    )
    return PartitionStatus(Status.STOP, f"{silence}, {lag:,} messages wait.")


def _stall(offset: int, span_ms: int, lag: int) -> PartitionStatus:
    return PartitionStatus(
        Status.STALL,
        f"A consumer owns the partition but its committed offset stayed at {offset} "
        f"through the whole status window ({_seconds(span_ms)}) while {lag:,} messages wait.",
    )


def _taken_recently(offset: int, owned_ms: int, lag: int) -> PartitionStatus:
    when = "in the latest round" if owned_ms == 0 else f"{_seconds(owned_ms)} ago"
    return PartitionStatus(
        Status.NEW,
        f"A consumer took the partition {when}; the committed offset is still {offset} and {lag:,} messages "
        "wait: not judged until it has owned the partition through the status window.",
    )


_CAUGHT_UP = PartitionStatus(Status.OK, _within_allowed(0, 0))  # shared: frozen


def noting_deleted(judged: PartitionStatus, committed: int, log_start: int | None) -> PartitionStatus:
    """A STOP or STALL reason counts "N messages wait" as Kafka counts lag, from the committed offset:
    below the log start, some of them were deleted unread, and no consumer will ever read them."""
    if judged.status not in (Status.STOP, Status.STALL) or log_start is None or committed >= log_start:
        return judged
    note = f" {log_start - committed:,} of them were deleted by retention before being read."
    return judged._replace(reason=judged.reason + note)


def evaluate_steady(committed: int, log_end: int, *, span_ms: int, has_consumer: bool) -> PartitionStatus:
    """What evaluate_partition gives a steady window, without building it.

    Steady: a full window (`window_length` >= 2 rounds, times strictly increasing, `span_ms`
    from its first to its last) in which the committed offset (>= 0) and the log end never
    changed, judged at the window's last round with the default allowed lag and complete share.
    Nothing in it moved, so no console move explains a change (no RESET), it has one commit
    offset (no REWIND), and its lag never changed:

    - past the log end: AHEAD; caught up: OK;
    - behind with a consumer: every round is a commit, the last one now, so not STOP; the offset
      stayed: STALL;
    - behind without one: the rounds collapse into one commit at the window's first round, silent
      for `span_ms` > 0, longer than the (empty) window of commits before it, and the log end
      never reached it: STOP.

    Only the reason's durations move with the clock, and they are the window's span. An idle
    cluster is all steady windows, so the collector takes this path for most partitions there.
    """
    if committed > log_end:
        return _ahead(committed, log_end)
    if committed == log_end:
        return _CAUGHT_UP
    lag = log_end - committed
    return _stall(committed, span_ms, lag) if has_consumer else _stop(span_ms, lag, committed, whole_window=True)


def evaluate_before_trend(committed: int, log_end: int, rounds: int, *, window_length: int) -> PartitionStatus | None:
    """What evaluate_partition gives a continuous window before its trend rules, or None when they decide.

    Continuous: `rounds` rounds (>= 1) with strictly increasing times, committed offsets never
    None nor negative, log ends never None nor going down, `committed` and `log_end` the latest
    round's; no console move to explain a change, the default allowed lag and complete share.
    Then nothing restarts the window and no RESET applies, so only AHEAD, a caught-up group and a
    window still collecting (NEW) are left before the trend rules; the collector checks
    continuity for a whole topic partition once and builds no window for these.
    """
    if committed > log_end:
        return _ahead(committed, log_end)
    lag = log_end - committed
    if lag <= 0:
        return _CAUGHT_UP
    return _collecting(rounds, window_length, lag) if rounds < max(2, window_length) else None


def evaluate_continuous_trend(
    times: Sequence[int], offsets: Sequence[int], ends: Sequence[int], *, now_ms: int, has_consumer: bool
) -> PartitionStatus | None:
    """What evaluate_partition gives a window that evaluate_before_trend left to the trend rules, or None
    when the committed offset went back somewhere in it (REWIND's search is left to evaluate_partition).

    The window is continuous (see evaluate_before_trend) and complete, behind the log end at its
    last round, and given as three series, oldest first. Its offsets never go back, so Burrow's
    commits are its rounds (with a consumer) or the first round of each offset (without one), and
    every rule reads as a comparison of plain numbers: no Observation or commit is built for the
    tens of thousands of windows a busy cluster's round judges.
    """
    if list(offsets) != sorted(offsets):
        return None
    committed, log_end = offsets[-1], ends[-1]
    lag = log_end - committed
    # Every round with a consumer; without one, the first round of each offset (offsets never go
    # back, so equal ones are neighbours).
    kept = [i for i in range(len(offsets)) if has_consumer or i == 0 or offsets[i] != offsets[i - 1]]
    first, last = kept[0], kept[-1]
    span_ms = times[last] - times[first]
    silent_ms = max(now_ms, times[-1]) - times[last]
    if silent_ms > span_ms and min(ends) > committed:
        return _stop(silent_ms, lag, committed, whole_window=last == 0)
    lags = [max(0, ends[i] - offsets[i]) for i in kept]
    if len(lags) > 1 and min(lags) > 0:
        if offsets[first] == committed:
            return _stall(committed, span_ms, lag)
        if lags == sorted(lags):
            return _warn(lags[0], lags[-1], _per_round(ends))
    return PartitionStatus(Status.OK, f"Consuming; lag {lag:,}.")


def _recently_caught_up(rounds: Sequence[Observation], committed: int) -> bool:
    return any(obs.log_end is not None and obs.log_end <= committed for obs in rounds)


def _unrecovered_rewind(commits: Sequence[_Commit]) -> tuple[int, int] | None:
    for i in range(1, len(commits)):
        high = commits[i - 1].offset
        if commits[i].offset < high and all(c.offset < high for c in commits[i:]):
            return high, commits[i].offset
    return None


def _seconds(ms: int) -> str:
    return duration_text(ms / 1000)
