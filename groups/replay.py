"""Replay: copy a range of a topic's records into a target topic, exactly (or at least) once, as an operation.

`preview_replay` checks a request against the cluster, turns it into offsets (once: a time
window becomes offsets here and never again), samples the first records and warns about what
the target would do to the copies. `request_replay` records it as an Operation of kind replay,
with the same approval, audit and dispatch as a reset. `run_replay` is the worker's side: claim,
copy with progress and cancel, finish.

A run that dies is resumed, never restarted: the copy's checkpoint is its private group's
committed offsets, written in the same Kafka transaction as the copies (see
`kafka.RangeCopier`). `resume_replay` hands a running replay to a new run, which fences the old
one; the periodic reaper does that for replays whose run stopped reporting, and a run near the
task time limit hands itself over the same way.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import kombu.exceptions
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from groups import access, audit, resets
from groups.kafka import (
    TP,
    ClusterClient,
    ConsoleError,
    CopyJob,
    CopyProgress,
    RangeCopier,
    Record,
    TopicFacts,
    client_for,
)
from groups.models import AuditEvent, Cluster, Operation

logger = logging.getLogger(__name__)

PARTITIONINGS = ("same", "key-hash")
# A run reports at least every half second, so one silent this long has died (or hangs on Kafka).
STALE_AFTER = timedelta(seconds=30)
# Runs in a row that may die at one checkpoint before the reaper fails the replay instead of resuming it.
MAX_STALLS = 3
_CHECKPOINTS = (f"one is taken every {RangeCopier.TRANSACTION_SECONDS:g} s or "
                f"{RangeCopier.TRANSACTION_RECORDS:,} records copied")
# A run hands the copy to a fresh task this long before the task's soft time limit.
HAND_OVER_MARGIN = 60
SAMPLE_TEXT_CHARS = 300
RATE_WINDOW_SECONDS = 5.0
DAY_MS = 86_400_000


class ReplayError(ValueError):
    """A request that cannot be carried out as given; the message tells the operator what to change."""


@dataclass(frozen=True)
class ReplayRequest:
    """What to copy: a source range (by offsets or by time window), a filter, a target and how to write.

    `offsets` maps each partition to its [from, to); `partitions`, when given with offsets, names the
    same partitions. By time, `partitions` (None for all) are copied over [time_from_ms, time_to_ms).
    """

    topic: str
    partitions: tuple[int, ...] | None
    offsets: dict[int, tuple[int, int]] | None
    time_from_ms: int | None
    time_to_ms: int | None
    key_equals: str | None = None
    key_regex: str | None = None
    header_present: str | None = None
    header_equals: tuple[str, str] | None = None
    target_topic: str = ""
    partitioning: str = "same"
    keep_timestamps: bool = True
    throttle_rps: int | None = None
    # Exactly once: transactions, the position committed with each batch. At least once: no
    # transactions (faster); a run that dies may have copied the records of its last batch twice.
    exactly_once: bool = True

    @property
    def by_time(self) -> bool:
        return self.offsets is None

    @property
    def has_filter(self) -> bool:
        return any(value is not None for value in (self.key_equals, self.key_regex, self.header_present,
                                                   self.header_equals))

    def to_json(self) -> dict:
        return {
            "topic": self.topic,
            "partitions": list(self.partitions) if self.partitions is not None else None,
            "offsets": ({str(p): [start, end] for p, (start, end) in sorted(self.offsets.items())}
                        if self.offsets is not None else None),
            "time_from_ms": self.time_from_ms,
            "time_to_ms": self.time_to_ms,
            "key_equals": self.key_equals,
            "key_regex": self.key_regex,
            "header_present": self.header_present,
            "header_equals": list(self.header_equals) if self.header_equals is not None else None,
            "target_topic": self.target_topic,
            "partitioning": self.partitioning,
            "keep_timestamps": self.keep_timestamps,
            "throttle_rps": self.throttle_rps,
            "exactly_once": self.exactly_once,
        }

    @classmethod
    def from_json(cls, data: dict) -> ReplayRequest:
        offsets = data.get("offsets")
        header_equals = data.get("header_equals")
        partitions = data.get("partitions")
        return cls(
            topic=data["topic"],
            partitions=tuple(int(p) for p in partitions) if partitions is not None else None,
            offsets={int(p): (int(r[0]), int(r[1])) for p, r in offsets.items()} if offsets is not None else None,
            time_from_ms=data.get("time_from_ms"),
            time_to_ms=data.get("time_to_ms"),
            key_equals=data.get("key_equals"),
            key_regex=data.get("key_regex"),
            header_present=data.get("header_present"),
            header_equals=(header_equals[0], header_equals[1]) if header_equals is not None else None,
            target_topic=data.get("target_topic", ""),
            partitioning=data.get("partitioning", "same"),
            keep_timestamps=data.get("keep_timestamps", True),
            throttle_rps=data.get("throttle_rps"),
            exactly_once=data.get("exactly_once", True),
        )


@dataclass(frozen=True)
class ReplayPreview:
    """The request as offsets, and what the operator should see before confirming it.

    ranges: one row per partition: topic, partition, start, end (excluded), count (offsets in the
    range, which transaction markers and compacted-away records also occupy), note.
    sample: the first records of the ranges (partition, offset, timestamp_ms, key, key_kind, headers
    as (name, text) pairs, value_text, value_kind "utf-8" | "json" | "hex" | "null", truncated, matches).
    target: partitions, timestamp_type, retention_ms, source_partitions, source_timestamp_type.
    """

    ranges: list[dict]
    total: int
    sample: list[dict]
    warnings: list[str]
    target: dict


@dataclass(frozen=True)
class PartitionBounds:
    """A source partition's log start, high watermark and last stable offset (LSO <= HW)."""

    log_start: int
    log_end: int
    stable_end: int


# ---------------------------------------------------------------------------------------------
# Pure checks and planning (no I/O)


def check_request(request: ReplayRequest) -> None:
    """Refuse what is wrong whatever the cluster holds: reversed or empty ranges, bad filter, throttle."""
    if not request.topic:
        raise ReplayError("Name the topic to replay from.")
    if not request.target_topic:
        raise ReplayError("Choose the target topic the records are copied into (it must exist on the cluster).")
    if request.partitioning not in PARTITIONINGS:
        raise ReplayError(f"Partitioning '{request.partitioning}' is unknown: choose 'same' (same partition "
                          "number) or 'key-hash' (by key, as the default partitioner).")
    if request.throttle_rps is not None and (isinstance(request.throttle_rps, bool) or request.throttle_rps <= 0):
        raise ReplayError("The throttle must be at least 1 record per second; leave it empty for no throttle.")
    if request.partitions is not None:
        if not request.partitions:
            raise ReplayError("Name at least one partition, or choose all partitions.")
        if any(p < 0 for p in request.partitions) or len(set(request.partitions)) != len(request.partitions):
            raise ReplayError("Partitions are distinct whole numbers from 0 up.")
    by_time = request.time_from_ms is not None or request.time_to_ms is not None
    if request.offsets is not None and by_time:
        raise ReplayError("Give the range by offsets or by time, not both.")
    if request.offsets is not None:
        _check_offsets(request)
    elif request.time_from_ms is None or request.time_to_ms is None:
        raise ReplayError("Give the range to copy: [from, to) offsets per partition, or a time window [from, to).")
    elif request.time_from_ms > request.time_to_ms:
        raise ReplayError(f"The time window {format_time_ms(request.time_from_ms)} to "
                          f"{format_time_ms(request.time_to_ms)} is reversed: the start must come before the end.")
    elif request.time_from_ms == request.time_to_ms:
        raise ReplayError(f"The time window from {format_time_ms(request.time_from_ms)} to the same time is empty: "
                          "[from, to) leaves out its end.")
    if request.key_regex is not None:
        try:
            re.compile(request.key_regex)
        except re.error as error:
            raise ReplayError(f"The key regular expression '{request.key_regex}' does not compile: {error}.") from None
        except (OverflowError, RecursionError):
            # Repeat counts past the engine's limit, or nesting too deep for the compiler.
            raise ReplayError(f"The key regular expression '{request.key_regex}' is too large to compile: "
                              "use smaller repeat counts and less nesting.") from None
    if request.header_equals is not None and not request.header_equals[0]:
        raise ReplayError("Name the header to match (name=value).")
    if request.header_present is not None and not request.header_present:
        raise ReplayError("Name the header that must be present.")


def _check_offsets(request: ReplayRequest) -> None:
    if not request.offsets:
        raise ReplayError("Give at least one partition's [from, to) offsets.")
    if request.partitions is not None and set(request.partitions) != set(request.offsets):
        raise ReplayError(f"The offsets name partitions {_listed(request.offsets)} but the partitions chosen are "
                          f"{_listed(request.partitions)}: name the same ones.")
    for p, (start, end) in sorted(request.offsets.items()):
        if p < 0 or start < 0 or end < 0:
            raise ReplayError(f"Partition {p}: partitions and offsets are whole numbers from 0 up.")
        if start > end:
            raise ReplayError(f"The range {start}-{end} of partition {p} is reversed: write from-to with from "
                              "below to.")
        if start == end:
            raise ReplayError(f"The range {start}-{end} of partition {p} is empty: [from, to) leaves out 'to'.")


def requested_partitions(request: ReplayRequest, partition_count: int) -> list[int]:
    """The source partitions the request reads; refuses partitions the topic does not have."""
    if request.offsets is not None:
        chosen = sorted(request.offsets)
    elif request.partitions is not None:
        chosen = sorted(request.partitions)
    else:
        chosen = list(range(partition_count))
    missing = [p for p in chosen if p >= partition_count]
    if missing:
        which, verb = ("partition", "does") if len(missing) == 1 else ("partitions", "do")
        raise ReplayError(f"Topic '{request.topic}' has {partition_count} partition"
                          f"{'s' if partition_count != 1 else ''} (0 to {partition_count - 1}): {which} "
                          f"{_listed(missing)} {verb} not exist.")
    return chosen


def check_target(request: ReplayRequest, partitions: list[int], target_partitions: int) -> None:
    """Refuse a target the copies cannot go to as asked: the source itself, or too few partitions."""
    if request.target_topic == request.topic:
        raise ReplayError(
            f"The target is the source topic '{request.topic}': the copies would be appended to the partitions being "
            f"read ({_listed(partitions) if request.partitioning == 'same' else 'any of them, by key'}), so the range "
            "would overlap its own copies and a replay of it would copy them again (a loop). Choose another target "
            "topic.")
    if request.partitioning == "same":
        beyond = [p for p in partitions if p >= target_partitions]
        if beyond:
            raise ReplayError(
                f"Target '{request.target_topic}' has {target_partitions} partition"
                f"{'s' if target_partitions != 1 else ''}, so source partition{'s' if len(beyond) > 1 else ''} "
                f"{_listed(beyond)} {'have' if len(beyond) > 1 else 'has'} no partition of the same number there. "
                f"Choose partitioning by key hash, or a target with at least {max(beyond) + 1} partitions.")


def plan_ranges(request: ReplayRequest, bounds: dict[int, PartitionBounds],
                at_from: dict[int, int | None] | None = None,
                at_to: dict[int, int | None] | None = None) -> tuple[list[dict], list[str]]:
    """Per partition the [start, end) to copy, and warnings about how the request was adjusted.

    By offsets the range is clamped to [log start, last stable offset]. By time, start and end
    are the first offsets whose timestamp is >= the window's ends (`at_from`, `at_to`: the broker's
    lookups, None where no record qualifies, which means the partition's end), as
    kafka-consumer-groups --to-datetime finds them. Ends never pass the last stable offset:
    records of a transaction still open are not final.
    """
    rows, warnings = [], []
    for p in sorted(bounds):
        b = bounds[p]
        if request.offsets is not None:
            wanted_start, wanted_end = request.offsets[p]
            start = min(max(wanted_start, b.log_start), b.stable_end)
            end = max(min(wanted_end, b.stable_end), start)
            if wanted_start < b.log_start:
                warnings.append(f"Partition {p}: offsets before {b.log_start} were deleted (retention or "
                                f"delete-records), so the copy starts at {b.log_start}, not {wanted_start}.")
            if wanted_end > b.stable_end:
                where = (f"its last stable offset {b.stable_end} (a transaction is still open there)"
                         if b.stable_end < b.log_end else f"the end of its log, {b.log_end}")
                warnings.append(f"Partition {p}: the range ends at {where}, not {wanted_end}.")
        else:
            start = _clamped_lookup((at_from or {}).get(p), b)
            end = max(_clamped_lookup((at_to or {}).get(p), b), start)
            if b.stable_end < b.log_end and (at_to or {}).get(p) is None:
                warnings.append(f"Partition {p}: a transaction is still open from offset {b.stable_end}; the range "
                                "stops there, since its records are not final.")
        note = f"offsets {start} to {end} (excluded) into '{request.target_topic}'" + (
            f" partition {p}" if request.partitioning == "same" else " by key hash")
        rows.append({"topic": request.topic, "partition": p, "start": start, "end": end, "count": end - start,
                     "note": note})
    return rows, warnings


def _clamped_lookup(offset: int | None, bounds: PartitionBounds) -> int:
    if offset is None:
        return bounds.stable_end
    return min(max(offset, bounds.log_start), bounds.stable_end)


def empty_range_message(request: ReplayRequest, bounds: dict[int, PartitionBounds]) -> str:
    if request.offsets is None:
        return (f"No record of '{request.topic}' has a timestamp in [{format_time_ms(request.time_from_ms)}, "
                f"{format_time_ms(request.time_to_ms)}) in the partitions chosen, so there is nothing to copy.")
    logs = "; ".join(f"partition {p}: {b.log_start} to {b.stable_end}" for p, b in sorted(bounds.items()))
    return f"The offsets asked for are outside the logs ({logs}), so there is nothing to copy."


def record_filter(request: ReplayRequest) -> Callable[[bytes | None, list | None], bool] | None:
    """The predicate on (key, headers) the request's filters make, all of which must hold; None without filters.

    A key regular expression is searched anywhere in the key read as UTF-8 (anchor it with ^ and $).
    """
    tests: list[Callable[[bytes | None, list | None], bool]] = []
    if request.key_equals is not None:
        wanted = request.key_equals.encode()
        tests.append(lambda key, headers: key == wanted)
    if request.key_regex is not None:
        pattern = re.compile(request.key_regex)
        tests.append(lambda key, headers: key is not None
                     and pattern.search(key.decode("utf-8", "surrogateescape")) is not None)
    if request.header_present is not None:
        name = request.header_present
        tests.append(lambda key, headers: headers is not None and any(k == name for k, _ in headers))
    if request.header_equals is not None:
        name, value = request.header_equals[0], request.header_equals[1].encode()
        tests.append(lambda key, headers: headers is not None and any(k == name and v == value for k, v in headers))
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda key, headers: all(test(key, headers) for test in tests)


def shown_bytes(data: bytes | None, limit: int = SAMPLE_TEXT_CHARS) -> tuple[str | None, str, bool]:
    """(text, kind, truncated) for a key, value or header: JSON and UTF-8 as text, anything else as hex."""
    if data is None:
        return None, "null", False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\t\n\r" for ch in text):
        kind = "utf-8"
        if text.lstrip()[:1] in ("{", "["):
            try:
                json.loads(text)
                kind = "json"
            except ValueError:
                pass
        return text[:limit], kind, len(text) > limit
    shown = data[: limit // 3]
    return shown.hex(" "), "hex", len(data) > len(shown)


def sample_row(record: Record, accept: Callable | None) -> dict:
    key, key_kind, _ = shown_bytes(record.key, 120)
    value, value_kind, truncated = shown_bytes(record.value)
    return {
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp_ms,
        "key": key,
        "key_kind": key_kind,
        "headers": [(name, shown_bytes(data, 120)[0]) for name, data in record.headers],
        "value_text": value,
        "value_kind": value_kind,
        "truncated": truncated,
        "matches": accept is None or accept(record.key, list(record.headers)),
    }


def replay_warnings(request: ReplayRequest, rows: list[dict], source: TopicFacts, target: TopicFacts,
                    records: list[Record], max_timestamps: dict[int, tuple[int, int]], now_ms: int) -> list[str]:
    """What the target will do to the copies that the operator may not expect."""
    warnings = []
    keep = request.keep_timestamps
    if keep and target.timestamp_type == "LogAppendTime":
        warnings.append(f"Target '{target.name}' uses LogAppendTime: the broker stamps every copy with the time it is "
                        "written, so the original timestamps will be lost.")
    stamps = [r.timestamp_ms for r in records if r.timestamp_ms is not None]
    keeps_stamps = keep and target.timestamp_type != "LogAppendTime"
    if keeps_stamps and stamps and target.retention_ms is not None:
        oldest = min(stamps)
        deleted_in = oldest + target.retention_ms - now_ms
        if deleted_in < DAY_MS:
            when = ("at once" if deleted_in <= 0 else f"within {format_duration_ms(deleted_in)}")
            warnings.append(
                f"Copies keep their original timestamps, and the oldest sampled record is from "
                f"{format_time_ms(oldest)}: the target's retention ({format_duration_ms(target.retention_ms)}) "
                f"deletes copies that old {when}, as soon as their log segment rolls. Stamp the copies now, or raise "
                "the target's retention.ms.")
    if keeps_stamps and target.timestamp_after_max_ms is not None:
        limit = now_ms + target.timestamp_after_max_ms
        ranges = {row["partition"]: (row["start"], row["end"]) for row in rows}
        for p, (offset, stamp) in sorted(max_timestamps.items()):
            start, end = ranges.get(p, (0, 0))
            if stamp <= limit or start >= end:
                continue
            if start <= offset < end:
                warnings.append(
                    f"Partition {p} offset {offset} is stamped {format_time_ms(stamp)}, more than "
                    f"{format_duration_ms(target.timestamp_after_max_ms)} ahead of now, which is newer than the "
                    "target accepts (message.timestamp.after.max.ms): the copy would fail there. Stamp the copies "
                    "now instead.")
            else:
                warnings.append(
                    f"Partition {p} holds records stamped up to {format_time_ms(stamp)}, newer than the target "
                    "accepts (message.timestamp.after.max.ms); if any are in the range, the copy fails on them. Stamp "
                    "the copies now to be safe.")
    if keeps_stamps and target.timestamp_before_max_ms is not None and stamps:
        oldest = min(stamps)
        if oldest < now_ms - target.timestamp_before_max_ms:
            warnings.append(
                f"The oldest sampled record ({format_time_ms(oldest)}) is older than the target accepts "
                f"(message.timestamp.before.max.ms = {format_duration_ms(target.timestamp_before_max_ms)}): the copy "
                "would fail on it. Stamp the copies now instead.")
    accept = record_filter(request)
    if accept is not None and records and not any(accept(r.key, list(r.headers)) for r in records):
        warnings.append(f"The filter matches none of the {len(records)} sampled records (the first of each "
                        "partition's range): check it, or the copy may copy nothing.")
    if request.partitioning == "same" and target.partitions > source.partitions:
        warnings.append(f"Target '{target.name}' has {target.partitions} partitions and the source "
                        f"{source.partitions}: copies go to the partitions of the same number only.")
    if request.partitioning == "key-hash":
        warnings.append("Copies are placed by key hash (murmur2, as Java producers place them); records without a "
                        "key go to a random partition.")
    if not request.exactly_once:
        warnings.append("At least once: no transactions. If the worker stops mid-copy, the records it copied since "
                        f"its last checkpoint ({_CHECKPOINTS}) are copied again when it resumes.")
    return warnings


# ---------------------------------------------------------------------------------------------
# Preview and request


def preview_replay(client: ClusterClient, request: ReplayRequest, *, sample_size: int = 10,
                   now_ms: int | None = None) -> ReplayPreview:
    """Check the request against the cluster and plan it as absolute offsets; nothing is written.

    Raises ReplayError for input the operator must change (nothing is started) and ConsoleError
    when Kafka fails.
    """
    check_request(request)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    facts = client.topic_facts([request.topic, request.target_topic])
    if request.topic not in facts:
        raise ReplayError(f"Topic '{request.topic}' does not exist on this cluster: check its name.")
    if request.target_topic not in facts:
        raise ReplayError(f"Target topic '{request.target_topic}' does not exist on this cluster: create it first "
                          "(the console does not create topics), then preview again.")
    source, target = facts[request.topic], facts[request.target_topic]
    partitions = requested_partitions(request, source.partitions)
    check_target(request, partitions, target.partitions)

    tps = [TP(request.topic, p) for p in partitions]
    bounds = _bounds(client, tps)
    at_from = at_to = None
    if request.by_time:
        found_from = client.offsets_for_time(tps, request.time_from_ms, read_committed=True)
        found_to = client.offsets_for_time(tps, request.time_to_ms, read_committed=True)
        at_from = {tp.partition: offset for tp, offset in found_from.items()}
        at_to = {tp.partition: offset for tp, offset in found_to.items()}
    rows, warnings = plan_ranges(request, bounds, at_from, at_to)
    total = sum(row["count"] for row in rows)
    if total == 0:
        raise ReplayError(empty_range_message(request, bounds))

    ranges = {row["partition"]: (row["start"], row["end"]) for row in rows}
    records = client.read_records(request.topic, ranges, per_partition=max(1, sample_size))
    accept = record_filter(request)
    limits_matter = request.keep_timestamps and target.timestamp_after_max_ms is not None
    max_timestamps = client.max_timestamps(tps) if limits_matter else {}
    warnings += replay_warnings(request, rows, source, target, records,
                                {tp.partition: found for tp, found in max_timestamps.items()}, now_ms)
    return ReplayPreview(
        ranges=rows,
        total=total,
        sample=[sample_row(record, accept) for record in records[:sample_size]],
        warnings=warnings,
        target={"partitions": target.partitions, "timestamp_type": target.timestamp_type,
                "retention_ms": target.retention_ms, "source_partitions": source.partitions,
                "source_timestamp_type": source.timestamp_type},
    )


def _bounds(client: ClusterClient, tps: list[TP]) -> dict[int, PartitionBounds]:
    log = client.log_offsets(tps)
    stable = client.stable_offsets(tps)
    gone = [str(tp) for tp in tps if log[tp].start is None or log[tp].end is None]
    if gone:
        raise ConsoleError(f"Partitions {', '.join(gone)} have no leader or vanished while planning; try again.",
                           code="LEADER_NOT_AVAILABLE", retriable=True)
    return {tp.partition: PartitionBounds(log[tp].start, log[tp].end, min(stable[tp], log[tp].end)) for tp in tps}


def request_replay(*, cluster: Cluster, request: ReplayRequest, preview: ReplayPreview, reason: str, actor: str,
                   requester=None, via: str = "web", source_ip: str | None = None, dispatch: bool = True) -> Operation:
    """Record the replay of `preview.ranges` as an operation; a worker runs it once the row is committed.

    Approval, audit and dispatch are those of `resets.request_operation`. The operation's
    `group_id` is the copy's private group (its checkpoint and transactional id), named once
    here so that a test database reused against the same cluster never resumes another's copy.
    With dispatch=False the caller runs it itself through `run_replay` (the CLI does).
    """
    if not reason.strip():
        raise ReplayError("Say why: a reason is required for every change.")
    if preview.total <= 0 or not preview.ranges:
        raise ReplayError("The range holds no records, so there is nothing to copy.")
    if any(row["topic"] != request.topic for row in preview.ranges):
        raise ReplayError("The preview is of another topic than the request: preview again.")
    check_request(request)
    scope = request.topic if request.partitions is None and request.offsets is None else (
        f"{request.topic}:{','.join(str(row['partition']) for row in preview.ranges)}")
    with transaction.atomic():
        operation = resets.request_operation(
            cluster=cluster, group_id=f"console-replay-{uuid.uuid4().hex[:16]}", kind=Operation.Kind.REPLAY,
            plan=[dict(row) for row in preview.ranges], reason=reason, actor=actor, requester=requester, via=via,
            strategy="by-time" if request.by_time else "by-offsets", strategy_value=json.dumps(request.to_json()),
            scope=scope, source_ip=source_ip, dispatch=dispatch,
        )
        Operation.objects.filter(pk=operation.pk).update(progress_total=preview.total)
    operation.refresh_from_db()
    return operation


def review_problem(operation: Operation) -> str | None:
    """Why a replay awaiting approval could not run as requested now, if it could not (approvers see it)."""
    try:
        _check_still_possible(client_for(operation.cluster), operation, _request_of(operation))
    except (ReplayError, ConsoleError) as error:
        return str(error)
    return None


def _check_still_possible(client: ClusterClient, operation: Operation, request: ReplayRequest) -> None:
    """Refuse a replay whose topics or records went away since it was planned."""
    facts = client.topic_facts([request.topic, request.target_topic])
    for name, role in ((request.topic, "source"), (request.target_topic, "target")):
        if name not in facts:
            raise ReplayError(f"The {role} topic '{name}' no longer exists; nothing was copied.")
    partitions = [row["partition"] for row in operation.plan]
    missing = [p for p in partitions if p >= facts[request.topic].partitions]
    if missing:
        raise ReplayError(f"Partitions {_listed(missing)} of '{request.topic}' no longer exist; nothing was copied.")
    check_target(request, partitions, facts[request.target_topic].partitions)
    log = client.log_offsets([TP(request.topic, p) for p in partitions])
    lost = [f"{row['partition']} (log starts at {log[TP(request.topic, row['partition'])].start}, the range at "
            f"{row['start']})" for row in operation.plan
            if row["start"] < row["end"] and (log[TP(request.topic, row["partition"])].start or 0) > row["start"]]
    if lost:
        raise ReplayError(f"Records of the range were deleted since the preview, in partition"
                          f"{'s' if len(lost) > 1 else ''} {', '.join(lost)}; nothing was copied. Preview again.")


def _request_of(operation: Operation) -> ReplayRequest:
    return ReplayRequest.from_json(json.loads(operation.strategy_value))


# ---------------------------------------------------------------------------------------------
# The worker's side


def run_replay(operation_id: int, *, takeover: int | None = None, time_limit: float | None = None) -> None:
    """Claim the replay and copy its ranges from the checkpoint, reporting progress; safe to call twice.

    Without `takeover` it claims a pending replay, or, when it is a redelivered task, a running
    one whose run stopped reporting. With `takeover=N` it takes the replay over from run N (see
    `resume_replay`). `time_limit` (seconds) is the task's soft limit: the run hands the copy to a
    new task shortly before it.
    """
    attempt = _claim(operation_id, takeover)
    if attempt is None:
        return
    operation = Operation.objects.select_related("cluster", "requester").get(pk=operation_id)
    if attempt == 1:
        audit.record("started", actor="worker", operation=operation, outcome="running")
    refused = _refusal(operation)
    if refused:
        _finish(operation, attempt, Operation.Status.FAILED, None, error=refused)
        return
    request = _request_of(operation)
    ranges = {row["partition"]: (row["start"], row["end"]) for row in operation.plan}
    run = _Run(operation, attempt, time_limit)
    try:
        client = client_for(operation.cluster)
        if attempt == 1:
            _check_still_possible(client, operation, request)
        copier = RangeCopier(client, CopyJob(
            source=request.topic, target=request.target_topic, ranges=ranges, copy_id=operation.group_id,
            partitioning=request.partitioning, keep_timestamps=request.keep_timestamps,
            accept=record_filter(request), throttle_rps=request.throttle_rps, transactional=request.exactly_once,
        ))
        progress = copier.run(run.report)
    except ReplayError as exc:
        _finish(operation, attempt, Operation.Status.FAILED, None, error=str(exc))
        return
    except ConsoleError as exc:
        if exc.code == "FENCED":
            logger.info("replay %s: run %s was taken over by a later run", operation_id, attempt)
            return
        _finish(operation, attempt, Operation.Status.FAILED, run.committed,
                error=f"{exc.message} {_kept_text(run.committed, operation)}")
        return
    except Exception:
        logger.exception("replay %s failed unexpectedly", operation_id)
        _finish(operation, attempt, Operation.Status.FAILED, run.committed,
                error="The worker failed unexpectedly (the error is in its log). "
                      + _kept_text(run.committed, operation))
        raise
    if run.stopped == "superseded":
        return
    if progress.done:
        _finish(operation, attempt, Operation.Status.SUCCEEDED, progress)
    elif run.stopped == "cancelled":
        who = (AuditEvent.objects.filter(operation=operation, action="cancel_requested").order_by("-id")
               .values_list("actor", flat=True).first())
        _finish(operation, attempt, Operation.Status.CANCELLED, progress,
                error=f"Cancelled{f' by {who}' if who else ''}: {progress.total_copied} of {operation.progress_total} "
                      f"records were copied into '{request.target_topic}' and stay there (committed); nothing more "
                      "will be copied.")
    elif run.stopped == "hand-over" and run.save(progress):
        _dispatch_resume(operation.pk, attempt)


class _Run:
    """One run's link to its operation row: progress, heartbeat, cancel and hand-over."""

    def __init__(self, operation: Operation, attempt: int, time_limit: float | None):
        self.operation = operation
        self.attempt = attempt
        if time_limit:
            # Short limits (tests) hand over halfway; real ones leave the margin for the last commit.
            spare = HAND_OVER_MARGIN if time_limit > 2 * HAND_OVER_MARGIN else time_limit / 2
            self.deadline: float | None = time.monotonic() + time_limit - spare
        else:
            self.deadline = None
        self.stopped = ""
        # The copy's committed state as last reported: None until the run has read the checkpoint.
        self.committed: CopyProgress | None = None
        self._samples: deque[tuple[float, int]] = deque()
        self._first = True

    def save(self, progress: CopyProgress) -> bool:
        """Write the progress and the heartbeat; False when a later run holds the replay (or it ended)."""
        self.committed = progress
        now = time.monotonic()
        copied = progress.total_copied
        self._samples.append((now, copied))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_SECONDS:
            self._samples.popleft()
        first_time, first_copied = self._samples[0]
        rate = (copied - first_copied) / (now - first_time) if now > first_time else 0.0
        stamp = timezone.now()
        mine = Operation.objects.filter(pk=self.operation.pk, status=Operation.Status.RUNNING,
                                        replay_attempt=self.attempt)
        return bool(mine.update(progress_copied=copied, progress_scanned=progress.scanned, progress_rate=rate,
                                progress_updated=stamp, heartbeat=stamp))

    def report(self, progress: CopyProgress) -> bool:
        """The copier's callback: save progress, then say whether to go on (not cancelled, superseded or due)."""
        now = time.monotonic()
        if not self.save(progress):
            self.stopped = "superseded"
            return False
        if self._first and self.attempt > 1:
            audit.record("resumed", actor="worker", operation=self.operation, outcome="running",
                         plan=_outcome_rows(self.operation, progress))
        self._first = False
        if Operation.objects.filter(pk=self.operation.pk, cancel_requested=True).exists():
            self.stopped = "cancelled"
            return False
        if self.deadline is not None and now >= self.deadline:
            self.stopped = "hand-over"
            return False
        return True


def _claim(operation_id: int, takeover: int | None) -> int | None:
    """The run number this call now holds, or None when the replay is not its to run."""
    now = timezone.now()
    replays = Operation.objects.filter(pk=operation_id, kind=Operation.Kind.REPLAY)
    if takeover is None:
        if replays.filter(status=Operation.Status.PENDING).update(
                status=Operation.Status.RUNNING, started=now, heartbeat=now, progress_updated=now, replay_attempt=1):
            return 1
        # A redelivered task: take over only from a run that stopped reporting.
        takeover = (replays.filter(status=Operation.Status.RUNNING, heartbeat__lt=now - STALE_AFTER)
                    .values_list("replay_attempt", flat=True).first())
        if takeover is None:
            return None
    if replays.filter(status=Operation.Status.RUNNING, replay_attempt=takeover).update(
            replay_attempt=takeover + 1, heartbeat=now):
        return takeover + 1
    return None


def _refusal(operation: Operation) -> str | None:
    """Why the requester may no longer replay on the cluster, if the right was withdrawn while it waited."""
    requester = operation.requester
    if requester is None or access.allowed(requester, "replay", operation.cluster):
        return None
    error = (access.refusal("replay", operation.cluster, who=requester.get_username())
             + " This was checked again when a worker started the replay, so nothing was copied.")
    audit.record("denied", actor=requester.get_username(), operation=operation, outcome="denied", error=error)
    return error


def _outcome_rows(operation: Operation, progress: CopyProgress | None) -> list[dict]:
    rows = []
    if progress is None:
        return [dict(row) for row in operation.plan]
    for row in operation.plan:
        p = row["partition"]
        position, copied = progress.positions[p], progress.copied.get(p, 0)
        rows.append({**row, "position": position, "copied": copied,
                     "note": f"copied {copied} record{'s' if copied != 1 else ''}; read offsets {row['start']} to "
                             f"{position} of {row['start']} to {row['end']}"})
    return rows


def _kept_text(progress: CopyProgress | None, operation: Operation) -> str:
    if progress is None:
        operation.refresh_from_db(fields=["progress_copied"])
    copied = progress.total_copied if progress is not None else operation.progress_copied
    if not copied:
        return "Nothing was copied."
    if _request_of(operation).exactly_once:
        return (f"{copied} of {operation.progress_total} records had been copied and committed before that; they stay "
                "in the target, and a read_committed reader sees each of them once.")
    return (f"{copied} of {operation.progress_total} records had been copied before that; they stay in the target "
            f"(at least once: the records copied after the last checkpoint before a worker died, {_CHECKPOINTS}, "
            "may be there twice).")


def _finish(operation: Operation, attempt: int, status: str, progress: CopyProgress | None, *,
            error: str = "") -> bool:
    """Move the replay to a final status with its counts, once, and audit the outcome."""
    now = timezone.now()
    rows = _outcome_rows(operation, progress)
    fields = {"status": status, "finished": now, "error": error, "outcome": rows, "heartbeat": now,
              "progress_updated": now, "progress_rate": 0.0}
    if progress is not None:
        fields.update(progress_copied=progress.total_copied, progress_scanned=progress.scanned)
    done = Operation.objects.filter(pk=operation.pk, status=Operation.Status.RUNNING,
                                    replay_attempt=attempt).update(**fields)
    if done:
        operation.refresh_from_db()
        audit.record(status, actor="worker", operation=operation, plan=rows, outcome=status, error=error)
    return bool(done)


def resume_replay(operation: Operation) -> bool:
    """Have a worker continue a running replay from its checkpoint, taking over from its current run.

    The new run fences the current one (if it still lives) before reading the checkpoint, so no
    record is copied twice or skipped. False when the replay is not running.
    """
    current = (Operation.objects.filter(pk=operation.pk, kind=Operation.Kind.REPLAY, status=Operation.Status.RUNNING)
               .values_list("replay_attempt", flat=True).first())
    if current is None:
        return False
    return _dispatch_resume(operation.pk, current)


def _dispatch_resume(operation_id: int, attempt: int) -> bool:
    from groups.tasks import resume_replay as resume_task

    try:
        resume_task.delay(operation_id, attempt)
    except kombu.exceptions.OperationalError as exc:
        # The replay stays running; the reaper tries again on its next round.
        logger.warning("replay %s could not be handed to a worker: %s", operation_id, exc)
        return False
    return True


def resume_stale_replays(stale_after: timedelta | None = None) -> list[int]:
    """Resume every running replay whose run stopped reporting (the reaper's part for replays); their ids.

    A replay whose runs keep stopping at the same checkpoint is failed instead, after MAX_STALLS.
    """
    cutoff = timezone.now() - (STALE_AFTER if stale_after is None else stale_after)
    stale = Operation.objects.filter(kind=Operation.Kind.REPLAY, status=Operation.Status.RUNNING,
                                     heartbeat__lt=cutoff)
    return [operation.pk for operation in stale if not _given_up(operation) and resume_replay(operation)]


def _given_up(operation: Operation) -> bool:
    """Count a stopped run; True when the replay was failed because runs keep dying at one checkpoint.

    Only runs that started count: while no worker takes the resumed task (all workers down), the
    replay waits, however many reaper rounds pass.
    """
    if operation.replay_attempt == operation.replay_stalled_attempt:
        return False
    same_place = operation.progress_scanned == operation.replay_stalled_at
    stalls = operation.replay_stalls + 1 if same_place else 1
    Operation.objects.filter(pk=operation.pk, replay_attempt=operation.replay_attempt).update(
        replay_stalls=stalls, replay_stalled_at=operation.progress_scanned,
        replay_stalled_attempt=operation.replay_attempt)
    if stalls <= MAX_STALLS:
        return False
    error = (f"Stopped after {stalls} runs in a row died at the same place ({operation.progress_scanned} of "
             f"{operation.progress_total} source offsets read) without reporting: the worker is probably killed "
             "there (out of memory on a very large record, or by its hard time limit); its log says why. "
             + _kept_text(None, operation))
    return _finish(operation, operation.replay_attempt, Operation.Status.FAILED, None, error=error)


def may_cancel(user, operation: Operation) -> bool:
    """Whether `user` may cancel the replay: the user who requested it, or an admin of its cluster."""
    return ((user.is_authenticated and operation.requester_id == user.pk)
            or access.allowed(user, "admin", operation.cluster))


def cancel_refusal(operation: Operation) -> str:
    """Why a user other than those `may_cancel` allows is refused."""
    requester = operation.requester.get_username() if operation.requester else "its requester"
    return (f"You may not cancel operation #{operation.pk}: only {requester}, who requested it, or a user with "
            f"the {access.ROLE_NEEDED['admin']} role on cluster '{operation.cluster.name}' may.")


def cancel_replay(operation: Operation, actor, *, source_ip: str | None = None) -> None:
    """Stop a replay: a pending one is cancelled at once; a running one stops within 2 seconds.

    `actor` is the console user asking: only one `may_cancel` allows may, anyone else is refused
    with PermissionDenied and the refusal is recorded in the audit log. A plain name (str) is a
    trusted caller acting for the console itself (a maintenance script, the engine's tests) and is
    recorded as given, unchecked.
    What a running replay copied stays in the target; the operation says how many records.
    Raises ReplayError when there is nothing to cancel.
    """
    if not isinstance(actor, str):
        user, actor = actor, actor.get_username()
        if not may_cancel(user, operation):
            message = cancel_refusal(operation)
            audit.record("denied", actor=actor, operation=operation, outcome="denied", error=message,
                         source_ip=source_ip)
            raise PermissionDenied(message)
    now = timezone.now()
    with transaction.atomic():
        error = f"Cancelled by {actor} before a worker started it; nothing was copied."
        if Operation.objects.filter(pk=operation.pk, kind=Operation.Kind.REPLAY,
                                    status=Operation.Status.PENDING).update(
                status=Operation.Status.CANCELLED, finished=now, cancel_requested=True, error=error):
            operation.refresh_from_db()
            audit.record("cancelled", actor=actor, operation=operation, outcome=operation.status, error=error,
                         source_ip=source_ip)
            return
        if Operation.objects.filter(pk=operation.pk, kind=Operation.Kind.REPLAY, status=Operation.Status.RUNNING,
                                    cancel_requested=False).update(cancel_requested=True):
            operation.refresh_from_db()
            audit.record("cancel_requested", actor=actor, operation=operation, outcome=operation.status,
                         source_ip=source_ip)
            return
    operation.refresh_from_db()
    if operation.status == Operation.Status.RUNNING:
        return  # asked already; the run is stopping
    if operation.is_awaiting_approval:
        raise ReplayError(f"Operation #{operation.pk} is awaiting approval: its requester can withdraw the request, "
                          "or an approver reject it.")
    raise ReplayError(f"Operation #{operation.pk} is {operation.get_status_display().lower()}, so there is nothing "
                      "to cancel.")


# ---------------------------------------------------------------------------------------------


def _listed(partitions) -> str:
    return ", ".join(str(p) for p in sorted(partitions))


_EPOCH = datetime(1970, 1, 1)  # naive UTC: isoformat then writes no offset, and "Z" says UTC
_DURATION_UNITS = (("day", DAY_MS), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000))


def format_time_ms(epoch_ms: int | None, *, sep: str = "T", missing: str = "-") -> str:
    """Epoch milliseconds as UTC text to the millisecond: 2023-11-14T22:13:20.000Z (`missing` for None).

    The one formatter of the console's replay texts (pages, form, command, warnings). `sep` goes
    between date and time (a page may want a space). A value no date can hold (negative, or past
    year 9999) is not an error here: it is shown as "epoch ms N".
    """
    if epoch_ms is None:
        return missing
    try:
        if epoch_ms < 0:
            raise OverflowError
        moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    except (OverflowError, ValueError, TypeError):
        return f"epoch ms {epoch_ms}"
    return moment.isoformat(sep=sep, timespec="milliseconds") + "Z"


def format_duration_ms(milliseconds: int | None) -> str:
    """A duration as a person reads it: the largest unit that holds it whole ("7 days", "36 hours"),
    else the largest unit it reaches, to a tenth ("1.4 days"); None or negative (Kafka's -1) is "unlimited"."""
    if milliseconds is None or milliseconds < 0:
        return "unlimited"
    for unit, size in _DURATION_UNITS:
        if milliseconds >= size and milliseconds % size == 0:
            count = milliseconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    for unit, size in _DURATION_UNITS:
        if milliseconds >= size:
            count = round(milliseconds / size, 1)
            count = int(count) if count == int(count) else count
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{milliseconds} ms"
