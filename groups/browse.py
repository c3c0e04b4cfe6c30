"""The record browser: where a read starts, which records it returns, how each is shown; every read audited.

A read is one partition, from an offset, a time, the log start or the log end, forwards or
backwards, `count` records at a time, optionally filtered. Backwards from a position P reads the
offsets [max(log start, P - count), P), then earlier windows while a filter or gaps (compaction,
transaction markers) leave fewer than `count` records, so paging never skips a record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from groups import audit
from groups.kafka import TP, ClusterClient, ConsoleError, LogOffsets
from groups.kafka.records import FetchedRecord, RecordReader, Scan
from groups.models import AuditEvent
from groups.planning.replays import shown_bytes
from groups.planning.time_text import format_time_ms
from groups.reading import NotFound

MIN_COUNT, MAX_COUNT, DEFAULT_COUNT = 20, 500, 50
# Records one request may look at while filtering, so a rare match costs a bounded read.
SCAN_LIMIT = 10_000
# Offsets one backwards step of a filtered read covers.
FILTERED_WINDOW = 1_000
SEEKS = {"offset": "an offset", "time": "a date and time", "start": "the log start", "end": "the log end"}
DIRECTIONS = {"forward": "forwards", "backward": "backwards"}
FORMATS = {"auto": "auto", "utf-8": "UTF-8", "json": "JSON", "hex": "hex"}
# How much of a key, value or header a page shows: enough to read a record, bounded so 500 records stay a page.
TEXT_LIMIT = 4_000
HEX_LIMIT = 1_024
EXCERPT_LIMIT = 60


@dataclass(frozen=True)
class BrowseRequest:
    """What to read: a partition, where to start, which way, how many, and an optional filter.

    `key` keeps records whose key is exactly that text (UTF-8); `contains` those whose key or
    value holds that text. Empty means no such filter.
    """

    partition: int
    seek: str = "end"
    offset: int | None = None
    time_ms: int | None = None
    direction: str = "backward"
    count: int = DEFAULT_COUNT
    key: str = ""
    contains: str = ""

    @property
    def has_filter(self) -> bool:
        return bool(self.key or self.contains)

    def accepts(self, record: FetchedRecord) -> bool:
        if self.key and record.key != self.key.encode():
            return False
        needle = self.contains.encode()
        return not needle or needle in (record.key or b"") or needle in (record.value or b"")

    @property
    def filter_text(self) -> str:
        """The filter as a person reads it ("" without one)."""
        parts = [f"key is '{self.key}'"] if self.key else []
        parts += [f"key or value contains '{self.contains}'"] if self.contains else []
        return " and ".join(parts)


def partition_logs(client: ClusterClient, topic: str) -> dict[int, LogOffsets]:
    """Log start and end of each partition of `topic`; NotFound when there is no such topic."""
    count = client.topic_partition_counts([topic]).get(topic)
    if count is None:
        raise NotFound(f"Topic '{topic}' does not exist on this cluster.", code="UNKNOWN_TOPIC_OR_PART")
    logs = client.log_offsets([TP(topic, partition) for partition in range(count)])
    return {tp.partition: log for tp, log in sorted(logs.items())}


def offset_problem(offset: int, partition: int, log: LogOffsets) -> str | None:
    """Why `offset` cannot be read from on `partition`, saying the partition's range; None if it can."""
    assert log.start is not None and log.end is not None
    if log.start <= offset <= log.end:
        return None
    if log.start == log.end:
        return f"Partition {partition} holds no record now: its log starts and ends at offset {log.end}."
    return (
        f"Offset {offset} is outside partition {partition}: it holds offsets {log.start} to {log.end - 1} "
        f"(log start {log.start}, log end {log.end})."
    )


@dataclass(frozen=True)
class BrowseResult:
    """A read's records in the order shown (forwards: oldest first; backwards: newest first).

    Offsets `first_offset` up to `next_offset` (excluded) were looked at; the older page ends at
    `first_offset` and the newer page starts at `next_offset`, so paging keeps the position.
    """

    request: BrowseRequest
    log: LogOffsets
    origin: int
    records: tuple[FetchedRecord, ...]
    scanned: int
    first_offset: int
    next_offset: int
    timed_out: bool
    time_found: bool = True

    @property
    def at_start(self) -> bool:
        return self.log.start is not None and self.first_offset <= self.log.start

    @property
    def at_end(self) -> bool:
        return self.log.end is not None and self.next_offset >= self.log.end

    @property
    def scan_limited(self) -> bool:
        """A filtered read stopped at SCAN_LIMIT records before it found `count` matches."""
        return self.request.has_filter and self.scanned >= SCAN_LIMIT and len(self.records) < self.request.count


def _origin(reader: RecordReader, request: BrowseRequest, log: LogOffsets) -> tuple[int, bool]:
    """The offset a read starts from, and for a time whether any record is stamped at or after it."""
    assert log.start is not None and log.end is not None
    if request.seek == "offset" and request.offset is not None:
        return request.offset, True
    if request.seek == "start":
        return log.start, True
    if request.seek == "time" and request.time_ms is not None:
        found = reader.offset_for_time(request.partition, request.time_ms)
        return (log.end, False) if found is None else (max(found, log.start), True)
    return log.end, True


def _backwards(
    reader: RecordReader, request: BrowseRequest, log_start: int, origin: int
) -> tuple[list[FetchedRecord], int, int, bool]:
    """Records before `origin`, the nearest kept: (records by offset, scanned, first offset, timed out)."""
    found: list[FetchedRecord] = []
    scanned, low = 0, origin
    accept = request.accepts if request.has_filter else None
    while low > log_start and len(found) < request.count and scanned < SCAN_LIMIT and reader.time_left > 0:
        # A window is read whole (a part left unread would leave a hole), so it fits in what may still be scanned.
        window = min(FILTERED_WINDOW, SCAN_LIMIT - scanned) if request.has_filter else request.count
        start = max(log_start, low - window)
        step: Scan = reader.scan(request.partition, start, low, want=None, accept=accept, scan_limit=SCAN_LIMIT)
        if step.timed_out:
            # Part of this window is unread: keeping its records would leave a hole below the ones kept.
            return found, scanned, low, True
        found, scanned, low = [*step.records, *found], scanned + step.scanned, start
    if len(found) > request.count:
        found = found[-request.count :]
        low = found[0].offset
    # The deadline may also have passed between two windows, before the goal.
    timed_out = low > log_start and len(found) < request.count and scanned < SCAN_LIMIT and reader.time_left <= 0
    return found, scanned, low, timed_out


def read(
    client: ClusterClient,
    topic: str,
    request: BrowseRequest,
    log: LogOffsets,
    *,
    actor: str,
    cluster: str,
    source_ip: str | None,
) -> BrowseResult:
    """Read what `request` asks of `topic` (already checked against the partition's `log`), and audit it.

    Forwards stops at the log end as it was when the page asked (`log.end`). Raises ConsoleError
    when Kafka fails; the attempt is audited then too.
    """
    assert log.start is not None and log.end is not None
    try:
        with RecordReader(client, topic) as reader:
            origin, time_found = _origin(reader, request, log)
            if request.direction == "backward":
                found, scanned, first, timed_out = _backwards(reader, request, log.start, origin)
                result = BrowseResult(
                    request, log, origin, tuple(reversed(found)), scanned, first, origin, timed_out, time_found
                )
            else:
                step = reader.scan(
                    request.partition,
                    origin,
                    log.end,
                    want=request.count,
                    accept=request.accepts if request.has_filter else None,
                    scan_limit=SCAN_LIMIT if request.has_filter else request.count,
                )
                result = BrowseResult(
                    request,
                    log,
                    origin,
                    step.records,
                    step.scanned,
                    origin,
                    step.next_offset,
                    step.timed_out,
                    time_found,
                )
    except ConsoleError as error:
        row = read_row(topic, request.partition, (), note="the read failed")
        audit_read(actor=actor, cluster=cluster, source_ip=source_ip, rows=[row], outcome="failed", error=error.message)
        raise
    looked_at = (
        f"offsets {result.first_offset} to {result.next_offset - 1} looked at"
        if result.first_offset < result.next_offset
        else "no offset looked at"
    )
    note = f"read {DIRECTIONS[request.direction]} from offset {origin}, {looked_at}"
    if request.has_filter:
        note += f"; filter: {request.filter_text} ({result.scanned} scanned)"
    audit_read(
        actor=actor,
        cluster=cluster,
        source_ip=source_ip,
        rows=[read_row(topic, request.partition, result.records, scanned=result.scanned, note=note)],
    )
    return result


def read_row(
    topic: str,
    partition: int,
    records: tuple[FetchedRecord, ...] | list[FetchedRecord],
    *,
    scanned=None,
    note: str = "",
) -> dict:
    """One partition of a read as the audit log keeps it: the range of offsets returned and how many."""
    offsets = [record.offset for record in records]
    row = {
        "topic": topic,
        "partition": partition,
        "first_offset": min(offsets) if offsets else None,
        "last_offset": max(offsets) if offsets else None,
        "records": len(offsets),
        "note": (
            f"returned offsets {min(offsets)} to {max(offsets)} ({len(offsets)} records); "
            if offsets
            else "no record returned; "
        )
        + note,
    }
    if scanned is not None:
        row["scanned"] = scanned
    return row


def audit_read(
    *,
    actor: str,
    cluster: str,
    source_ip: str | None,
    rows: list[dict],
    group_id: str = "",
    outcome: str = "succeeded",
    error: str = "",
) -> None:
    """Record that `actor` read records: per partition, the range of offsets returned (see `read_row`)."""
    audit.record(
        AuditEvent.Action.READ_RECORDS,
        actor=actor,
        cluster=cluster,
        group_id=group_id,
        plan=rows,
        outcome=outcome,
        error=error,
        source_ip=source_ip,
    )


@dataclass(frozen=True)
class Variant:
    format: str
    text: str
    truncated: bool


@dataclass(frozen=True)
class ShownBytes:
    """A key, value or header value as a page shows it: every format that fits it, one of them shown.

    `detected` is what auto chooses (null, utf-8, json or hex); `refused` names a format that was
    asked for but does not fit these bytes ("" when none), which are then shown as detected.
    """

    size: int | None
    detected: str
    variants: tuple[Variant, ...]
    shown: str
    refused: str = ""

    @property
    def is_null(self) -> bool:
        return self.detected == "null"


def _hex_dump(data: bytes) -> str:
    """Sixteen bytes a line: the offset, the bytes in hex, and the printable ASCII ones."""
    lines = []
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{at:08x}  {chunk.hex(' '):<47}  |{text}|")
    return "\n".join(lines)


def shown(data: bytes | None, wanted: str = "auto") -> ShownBytes:
    """`data` in each format that fits it, showing `wanted` (auto: the detected one, as replay samples detect)."""
    if data is None:
        return ShownBytes(None, "null", (), "null")
    detected = shown_bytes(data, 0)[1]
    variants = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        variants.append(Variant("utf-8", text[:TEXT_LIMIT], len(text) > TEXT_LIMIT))
        try:
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = None
        if pretty is not None:
            variants.append(Variant("json", pretty[:TEXT_LIMIT], len(pretty) > TEXT_LIMIT))
    variants.append(Variant("hex", _hex_dump(data[:HEX_LIMIT]), len(data) > HEX_LIMIT))
    formats = {variant.format for variant in variants}
    if wanted == "auto" or wanted in formats:
        return ShownBytes(len(data), detected, tuple(variants), detected if wanted == "auto" else wanted)
    return ShownBytes(len(data), detected, tuple(variants), detected, refused=wanted)


@dataclass(frozen=True)
class ShownRecord:
    record: FetchedRecord
    format: str
    time: str
    key: ShownBytes
    value: ShownBytes
    headers: tuple[tuple[str, ShownBytes], ...]


def show_record(record: FetchedRecord, wanted: str = "auto") -> ShownRecord:
    """A record with its key, value and headers each shown in `wanted` where it fits, else as detected."""
    return ShownRecord(
        record=record,
        format=wanted,
        time=format_time_ms(record.timestamp_ms, sep=" ", missing=""),
        key=shown(record.key, wanted),
        value=shown(record.value, wanted),
        headers=tuple((name, shown(value, wanted)) for name, value in record.headers),
    )


def excerpt(data: bytes | None) -> str | None:
    """A short one-line look at some bytes (None for null): text as text, anything else as hex."""
    text, _, truncated = shown_bytes(data, EXCERPT_LIMIT)
    if text is None:
        return None
    return " ".join(text.split()) + ("…" if truncated else "")
