"""Each topic partition's recent log history, carried from round to round in its snapshot row.

Lag in seconds and the retention margin need to know when the log end (and start) had which
value, further back than the status window: as far back as the oldest committed offset of a
group that lags on the partition. Reading that from the history store for every partition every
round would cost a query per partition, so the collector carries a compact copy:

- a round that changes neither log start nor log end is dropped when its neighbours keep the
  run's first and last round (what estimates.timeline_from_history keeps of a run anyway);
- rounds before the one that brackets the smallest lagging committed offset are dropped;
- past `max_rounds`, every other round of the older half is dropped, so older stretches are
  kept at a coarser spacing (the lag-in-seconds figure says its precision).

Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from groups.estimates import LogRound

MAX_ROUNDS = 240


def append_round(
    history: Sequence[LogRound],
    latest: LogRound,
    *,
    keep_offset: int | None,
    min_rounds: int,
    max_rounds: int = MAX_ROUNDS,
) -> list[LogRound]:
    """`history` with `latest` appended, compressed and trimmed as the module says.

    `keep_offset`: the smallest committed offset of a lagging group, or None when nothing lags
    (then only the last `min_rounds` rounds are kept, for the rates).
    """
    rounds = list(history)
    if len(rounds) >= 2 and _same_logs(rounds[-2], rounds[-1]) and _same_logs(rounds[-1], latest):
        rounds[-1] = latest  # the run goes on: its first round stays, its last moves
    else:
        rounds.append(latest)
    first_needed = max(0, len(rounds) - min_rounds)
    if keep_offset is not None:
        # The newest round whose log end was at or below the offset: the record there came later.
        below = [i for i, r in enumerate(rounds) if r.log_end is not None and r.log_end <= keep_offset]
        first_needed = min(first_needed, below[-1] if below else 0)
    rounds = rounds[first_needed:]
    if len(rounds) > max_rounds:
        older = (len(rounds) - min_rounds) // 2 * 2
        rounds = rounds[:older:2] + rounds[older:]
    return rounds


def _same_logs(a: LogRound, b: LogRound) -> bool:
    return a.log_start == b.log_start and a.log_end == b.log_end


def encode(histories: Mapping[int, Sequence[LogRound]]) -> str:
    """{partition: [[t ms, log start, log end, newest offset, newest ms], ...]} as compact JSON."""
    # A LogRound is a tuple of those five in that order; orjson writes a plain tuple as an array.
    return orjson.dumps({str(p): list(map(tuple, rounds)) for p, rounds in histories.items()}).decode()


def decode(text: str) -> dict[int, list[LogRound]]:
    if not text:
        return {}
    return {int(p): list(map(LogRound._make, rounds)) for p, rounds in orjson.loads(text).items()}
