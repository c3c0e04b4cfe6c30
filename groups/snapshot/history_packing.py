"""History points packed into compact chunks, and their roll-ups (pure: no Django, no I/O).

A chunk is a run of points of one series stored as one blob, column by column: the times, then
each value. Numbers are stored as differences from the previous number (a lag or an offset
moves little between rounds), in the narrowest of 1, 2, 4 or 8 bytes that holds them, their
bytes regrouped so all low bytes come first and all high bytes after (high bytes are mostly
equal, so zlib folds them away). Floats with at most three decimals (lag in seconds, from
millisecond clocks) travel as thousandths the same way; other floats as 8 raw bytes. Labels (a
status) are indexes into the chunk's own table of labels. `None` (a value that could not be
told) is marked in a bitmap and takes no other room. Decoding stays in C (zlib, array,
accumulate), so reading a week of roll-ups costs milliseconds.

A roll-up point summarises the points of a bucket: the smallest, largest and last of each value
and how many rounds it covers. Labels are ordered by a rank given by the caller (best to worst),
so a roll-up's `high` is the worst status seen in its five minutes. Buckets only exist where
points do: a gap stays a gap.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise

Value = int | float | str | None

_FORMAT = 1
_HEADER = struct.Struct("<BIB")  # format, points, columns

_ALL_NONE, _INT, _MILLI, _FLOAT, _LABEL = range(5)
_WIDTHS = (("b", 1, 1 << 7), ("h", 2, 1 << 15), ("i", 4, 1 << 31), ("q", 8, 1 << 63))
_BIG_ENDIAN = sys.byteorder == "big"


class PackingError(ValueError):
    """Values that cannot be packed; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Point:
    """One round of a series (`span_ms` 0), or a roll-up of the rounds in a bucket.

    `last`, `low` and `high` hold the values in the series' order. For a round they are the same
    values; for a roll-up, the last round's values and the smallest and largest of each (None
    where no round of the bucket knew that value). `t_ms` is the round's time, or the start of
    the bucket; `count` is how many rounds the point stands for.
    """

    t_ms: int
    last: tuple[Value, ...]
    low: tuple[Value, ...]
    high: tuple[Value, ...]
    span_ms: int = 0
    count: int = 1

    @classmethod
    def of_round(cls, t_ms: int, values: Sequence[Value]) -> Point:
        values = tuple(values)
        return cls(t_ms, values, values, values)


def pack_rounds(points: Sequence[Point]) -> bytes:
    """Rounds (their `last` values) as one blob; `unpack_rounds` gives them back exactly."""
    width = len(points[0].last) if points else 0
    return pack([p.t_ms for p in points], [[p.last[i] for p in points] for i in range(width)])


def unpack_rounds(blob: bytes | memoryview) -> list[Point]:
    times, columns = unpack(blob)
    rows = zip(*columns, strict=True) if columns else [()] * len(times)
    return [Point(t, values, values, values) for t, values in zip(times, rows, strict=True)]


def pack_buckets(points: Sequence[Point]) -> bytes:
    """Roll-up points as one blob: count, then every value's low, high and last."""
    width = len(points[0].last) if points else 0
    columns: list[list[Value]] = [[p.count for p in points]]
    for i in range(width):
        columns += [[p.low[i] for p in points], [p.high[i] for p in points], [p.last[i] for p in points]]
    return pack([p.t_ms for p in points], columns)


def unpack_buckets(blob: bytes | memoryview, span_ms: int) -> list[Point]:
    times, columns = unpack(blob)
    counts, rest = columns[0], columns[1:]
    rows = [zip(*rest[k::3], strict=True) if rest else [()] * len(times) for k in range(3)]
    return [
        Point(t, last, low, high, span_ms, count)
        for t, count, low, high, last in zip(times, counts, *rows, strict=True)
    ]


def roll_up(points: Iterable[Point], step_ms: int, rank: Callable[[str], object] = str) -> list[Point]:
    """Points merged into buckets of `step_ms` aligned on multiples of it (points in time order).

    Works on rounds and on finer roll-ups alike (a 5-minute bucket merges into a 30-minute one
    unchanged in meaning). A bucket with no point is absent, never filled in.
    """
    buckets: list[Point] = []
    run: list[Point] = []
    start = 0
    for point in points:
        bucket = point.t_ms - point.t_ms % step_ms
        if bucket != start:
            if run:
                buckets.append(_merge(start, run, step_ms, rank))
            start, run = bucket, []
        run.append(point)
    if run:
        buckets.append(_merge(start, run, step_ms, rank))
    return buckets


def _merge(start: int, run: list[Point], step_ms: int, rank: Callable[[str], object]) -> Point:
    if len(run) == 1 and run[0].span_ms == step_ms:
        return run[0]
    lows = list(zip(*(p.low for p in run), strict=True))
    # A round's low and high are one tuple (see Point.of_round): its columns need reading only once.
    highs = lows if all(p.low is p.high for p in run) else list(zip(*(p.high for p in run), strict=True))
    low = tuple(_extreme(min, column, rank) for column in lows)
    high = tuple(_extreme(max, column, rank) for column in highs)
    return Point(start, run[-1].last, low, high, step_ms, sum(p.count for p in run))


def _extreme(pick, values: tuple[Value, ...], rank: Callable[[str], object]) -> Value:
    if None in values:
        values = tuple(v for v in values if v is not None)
        if not values:
            return None
    first = values[0]
    if type(first) is not str:
        return pick(values)
    return first if values.count(first) == len(values) else pick(values, key=rank)


def pack(times: Sequence[int], columns: Sequence[Sequence[Value]]) -> bytes:
    """Times (strictly increasing ms) and value columns of the same length, as one zlib blob."""
    if any(len(column) != len(times) for column in columns):
        raise PackingError("every value column must have one value per time")
    if any(b <= a for a, b in pairwise(times)):
        raise PackingError("times must be strictly increasing")
    parts = [_HEADER.pack(_FORMAT, len(times), len(columns)), _pack_ints(list(times))]
    parts += [_pack_column(list(column)) for column in columns]
    return zlib.compress(b"".join(parts), 6)


def unpack(blob: bytes | memoryview) -> tuple[list[int], list[Sequence[Value]]]:
    data = memoryview(zlib.decompress(blob))
    fmt, n, width = _HEADER.unpack_from(data)
    if fmt != _FORMAT:
        raise PackingError(f"unknown chunk format {fmt}")
    pos = _HEADER.size
    times, pos = _unpack_ints(data, pos, n)
    columns: list[Sequence[Value]] = []
    for _ in range(width):
        column, pos = _unpack_column(data, pos, n)
        columns.append(column)
    return times, columns


def _pack_column(values: list[Value]) -> bytes:
    known = [v for v in values if v is not None]
    if not known:
        return bytes([_ALL_NONE])
    nulls = b"\x00" if len(known) == len(values) else b"\x01" + _bitmap([v is not None for v in values])
    labels = [v for v in known if isinstance(v, str)]
    numbers = [v for v in known if not isinstance(v, str)]
    ints = [v for v in numbers if not isinstance(v, float)]
    if labels:
        if numbers:
            raise PackingError("a value column holds numbers or labels, not both")
        tag, body = _LABEL, _pack_labels(labels)
    elif len(ints) < len(numbers):
        millis = _as_thousandths(numbers)
        if millis is None:
            tag, body = _FLOAT, _ordered(array("d", numbers)).tobytes()
        else:
            tag, body = _MILLI, _pack_ints(millis)
    else:
        tag, body = _INT, _pack_ints(ints)
    return bytes([tag]) + nulls + body


def _unpack_column(data: memoryview, pos: int, n: int) -> tuple[Sequence[Value], int]:
    tag = data[pos]
    pos += 1
    if tag == _ALL_NONE:
        return [None] * n, pos
    present: list[bool] | None = None
    if data[pos]:
        present = _unbitmap(data[pos + 1 : pos + 1 + (n + 7) // 8], n)
        pos += (n + 7) // 8
    pos += 1
    count = n if present is None else sum(present)
    known: Sequence[Value]
    if tag == _INT:
        known, pos = _unpack_ints(data, pos, count)
    elif tag == _MILLI:
        ints, pos = _unpack_ints(data, pos, count)
        known = [i / 1000 for i in ints]
    elif tag == _FLOAT:
        floats = array("d")
        floats.frombytes(data[pos : pos + 8 * count])
        known, pos = _ordered(floats).tolist(), pos + 8 * count
    elif tag == _LABEL:
        known, pos = _unpack_labels(data, pos, count)
    else:
        raise PackingError(f"unknown column type {tag}")
    if present is None:
        return known, pos
    values = iter(known)
    return [next(values) if here else None for here in present], pos


def _as_thousandths(values: list[float | int]) -> list[int] | None:
    """Each value as a whole number of thousandths, or None if any is not exactly one."""
    try:
        millis = [round(v * 1000) for v in values]
    except (OverflowError, ValueError):  # infinity, NaN
        return None
    if [m / 1000 for m in millis] != values or not -(1 << 63) <= min(millis) <= max(millis) < 1 << 63:
        return None
    return millis


def _pack_ints(values: list[int]) -> bytes:
    """Differences from the previous value, in the narrowest width, byte planes regrouped."""
    deltas = [values[0]] + [b - a for a, b in pairwise(values)] if values else []
    biggest = max(max(deltas), -min(deltas)) if deltas else 0
    width = next(((code, size) for code, size, bound in _WIDTHS if biggest < bound), None)
    if width is None:
        raise PackingError(f"a number too large to keep: {max(values, key=abs)}")
    code, size = width
    raw = _ordered(array(code, deltas)).tobytes()
    return bytes([size]) + b"".join(raw[i::size] for i in range(size))


def _unpack_ints(data: memoryview, pos: int, count: int) -> tuple[list[int], int]:
    size = data[pos]
    pos += 1
    planes = data[pos : pos + size * count]
    raw = bytearray(size * count)
    for i in range(size):
        raw[i::size] = planes[i * count : (i + 1) * count]
    deltas = array({1: "b", 2: "h", 4: "i", 8: "q"}[size])
    deltas.frombytes(bytes(raw))
    return list(accumulate(_ordered(deltas))), pos + size * count


def _pack_labels(labels: list[str]) -> bytes:
    table = list(dict.fromkeys(labels))
    if len(table) > 0xFFFF:
        raise PackingError("more than 65,535 different labels in one chunk")
    index = {label: n for n, label in enumerate(table)}
    encoded = [label.encode() for label in table]
    head = struct.pack("<H", len(table)) + b"".join(struct.pack("<H", len(e)) + e for e in encoded)
    return head + _ordered(array("H", [index[label] for label in labels])).tobytes()


def _unpack_labels(data: memoryview, pos: int, count: int) -> tuple[list[str], int]:
    (size,) = struct.unpack_from("<H", data, pos)
    pos += 2
    table = []
    for _ in range(size):
        (length,) = struct.unpack_from("<H", data, pos)
        table.append(bytes(data[pos + 2 : pos + 2 + length]).decode())
        pos += 2 + length
    indexes = array("H")
    indexes.frombytes(data[pos : pos + 2 * count])
    return [table[i] for i in _ordered(indexes)], pos + 2 * count


def _bitmap(flags: list[bool]) -> bytes:
    out = bytearray((len(flags) + 7) // 8)
    for n, flag in enumerate(flags):
        if flag:
            out[n >> 3] |= 1 << (n & 7)
    return bytes(out)


def _unbitmap(data: memoryview, n: int) -> list[bool]:
    return [bool(data[i >> 3] & (1 << (i & 7))) for i in range(n)]


def _ordered(values: array) -> array:
    """Little-endian on disk whatever the machine, so a database moves between machines."""
    if _BIG_ENDIAN:
        values.byteswap()
    return values
