"""Replay planning: a request checked and turned into absolute source ranges, from facts read once.

Pure: the caller reads Kafka (topic facts, log bounds, the broker's time lookups, a sample) and
passes the facts in; nothing here does I/O. Times and durations in its texts are written by
groups.planning.time_text, as everywhere else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from groups.kafka.values import CHECKPOINT_CADENCE, Record, RecordFilter, TopicFacts, is_internal_topic
from groups.planning.time_text import DAY_MS, format_duration_ms, format_time_ms

PARTITIONINGS = ("same", "key-hash")
SAMPLE_TEXT_CHARS = 300


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
        return any(
            value is not None for value in (self.key_equals, self.key_regex, self.header_present, self.header_equals)
        )

    def to_json(self) -> dict:
        return {
            "topic": self.topic,
            "partitions": list(self.partitions) if self.partitions is not None else None,
            "offsets": (
                {str(p): [start, end] for p, (start, end) in sorted(self.offsets.items())}
                if self.offsets is not None
                else None
            ),
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


def internal_topic_refusal(topic: str) -> str | None:
    """Why `topic` is not replayed when it is one of Kafka's internal topics, otherwise None. Their records
    are the brokers' own bookkeeping in a binary format no application reads."""
    if not is_internal_topic(topic):
        return None
    return (
        f"'{topic}' is one of Kafka's internal topics: it holds the brokers' own bookkeeping, not application "
        "records, so the console does not replay it. Replay from the application topic the records were written to."
    )


def check_request(request: ReplayRequest) -> None:
    """Refuse what is wrong whatever the cluster holds: reversed or empty ranges, bad filter, throttle."""
    if not request.topic:
        raise ReplayError("Name the topic to replay from.")
    if refusal := internal_topic_refusal(request.topic):
        raise ReplayError(refusal)
    if not request.target_topic:
        raise ReplayError("Choose the target topic the records are copied into (it must exist on the cluster).")
    if is_internal_topic(request.target_topic):
        raise ReplayError(
            f"'{request.target_topic}' is one of Kafka's internal topics, which only the brokers write: "
            "choose an application topic as the target."
        )
    if request.partitioning not in PARTITIONINGS:
        raise ReplayError(
            f"Partitioning '{request.partitioning}' is unknown: choose 'same' (same partition "
            "number) or 'key-hash' (by key, as the default partitioner)."
        )
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
        raise ReplayError(
            f"The time window {format_time_ms(request.time_from_ms)} to "
            f"{format_time_ms(request.time_to_ms)} is reversed: the start must come before the end."
        )
    elif request.time_from_ms == request.time_to_ms:
        raise ReplayError(
            f"The time window from {format_time_ms(request.time_from_ms)} to the same time is empty: "
            "[from, to) leaves out its end."
        )
    if request.key_regex is not None:
        try:
            re.compile(request.key_regex)
        except re.error as error:
            raise ReplayError(f"The key regular expression '{request.key_regex}' does not compile: {error}.") from None
        except (OverflowError, RecursionError):
            # Repeat counts past the engine's limit, or nesting too deep for the compiler.
            raise ReplayError(
                f"The key regular expression '{request.key_regex}' is too large to compile: "
                "use smaller repeat counts and less nesting."
            ) from None
    if request.header_equals is not None and not request.header_equals[0]:
        raise ReplayError("Name the header to match (name=value).")
    if request.header_present is not None and not request.header_present:
        raise ReplayError("Name the header that must be present.")
    if "" in (request.key_equals, request.key_regex):
        raise ReplayError("Give the key to match, or match any key.")


def _check_offsets(request: ReplayRequest) -> None:
    if not request.offsets:
        raise ReplayError("Give at least one partition's [from, to) offsets.")
    if request.partitions is not None and set(request.partitions) != set(request.offsets):
        raise ReplayError(
            f"The offsets name partitions {listed(request.offsets)} but the partitions chosen are "
            f"{listed(request.partitions)}: name the same ones."
        )
    for p, (start, end) in sorted(request.offsets.items()):
        if p < 0 or start < 0 or end < 0:
            raise ReplayError(f"Partition {p}: partitions and offsets are whole numbers from 0 up.")
        if start > end:
            raise ReplayError(
                f"The range {start}-{end} of partition {p} is reversed: write from-to with from below to."
            )
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
        raise ReplayError(
            f"Topic '{request.topic}' has {partition_count} partition"
            f"{'s' if partition_count != 1 else ''} (0 to {partition_count - 1}): {which} "
            f"{listed(missing)} {verb} not exist."
        )
    return chosen


def check_target(request: ReplayRequest, partitions: list[int], target_partitions: int) -> None:
    """Refuse a target the copies cannot go to as asked: the source itself, or too few partitions."""
    if request.target_topic == request.topic:
        raise ReplayError(
            f"The target is the source topic '{request.topic}': the copies would be appended to the partitions being "
            f"read ({listed(partitions) if request.partitioning == 'same' else 'any of them, by key'}), so the range "
            "would overlap its own copies and a replay of it would copy them again (a loop). Choose another target "
            "topic."
        )
    if request.partitioning == "same":
        beyond = [p for p in partitions if p >= target_partitions]
        if beyond:
            raise ReplayError(
                f"Target '{request.target_topic}' has {target_partitions} partition"
                f"{'s' if target_partitions != 1 else ''}, so source partition{'s' if len(beyond) > 1 else ''} "
                f"{listed(beyond)} {'have' if len(beyond) > 1 else 'has'} no partition of the same number there. "
                f"Choose partitioning by key hash, or a target with at least {max(beyond) + 1} partitions."
            )


def plan_ranges(
    request: ReplayRequest,
    bounds: dict[int, PartitionBounds],
    at_from: dict[int, int | None] | None = None,
    at_to: dict[int, int | None] | None = None,
) -> tuple[list[dict], list[str]]:
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
                warnings.append(
                    f"Partition {p}: offsets before {b.log_start} were deleted (retention or "
                    f"delete-records), so the copy starts at {b.log_start}, not {wanted_start}."
                )
            if wanted_end > b.stable_end:
                where = (
                    f"its last stable offset {b.stable_end} (a transaction is still open there)"
                    if b.stable_end < b.log_end
                    else f"the end of its log, {b.log_end}"
                )
                warnings.append(f"Partition {p}: the range ends at {where}, not {wanted_end}.")
        else:
            start = _clamped_lookup((at_from or {}).get(p), b)
            end = max(_clamped_lookup((at_to or {}).get(p), b), start)
            if b.stable_end < b.log_end and (at_to or {}).get(p) is None:
                warnings.append(
                    f"Partition {p}: a transaction is still open from offset {b.stable_end}; the range "
                    "stops there, since its records are not final."
                )
        note = f"offsets {start} to {end} (excluded) into '{request.target_topic}'" + (
            f" partition {p}" if request.partitioning == "same" else " by key hash"
        )
        rows.append(
            {"topic": request.topic, "partition": p, "start": start, "end": end, "count": end - start, "note": note}
        )
    return rows, warnings


def _clamped_lookup(offset: int | None, bounds: PartitionBounds) -> int:
    if offset is None:
        return bounds.stable_end
    return min(max(offset, bounds.log_start), bounds.stable_end)


def empty_range_message(request: ReplayRequest, bounds: dict[int, PartitionBounds]) -> str:
    if request.offsets is None:
        return (
            f"No record of '{request.topic}' has a timestamp in [{format_time_ms(request.time_from_ms)}, "
            f"{format_time_ms(request.time_to_ms)}) in the partitions chosen, so there is nothing to copy."
        )
    logs = "; ".join(f"partition {p}: {b.log_start} to {b.stable_end}" for p, b in sorted(bounds.items()))
    return f"The offsets asked for are outside the logs ({logs}), so there is nothing to copy."


def record_filter(request: ReplayRequest) -> RecordFilter | None:
    """The predicate on (key, headers) the request's filters make, all of which must hold; None without filters.

    A key regular expression is searched anywhere in the key read as UTF-8 (anchor it with ^ and $).
    """
    tests: list[RecordFilter] = []
    if request.key_equals is not None:
        wanted = request.key_equals.encode()
        tests.append(lambda key, headers: key == wanted)
    if request.key_regex is not None:
        pattern = re.compile(request.key_regex)
        tests.append(
            lambda key, headers: key is not None and pattern.search(key.decode("utf-8", "surrogateescape")) is not None
        )
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


def sample_row(record: Record, accept: RecordFilter | None) -> dict:
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


def replay_warnings(
    request: ReplayRequest,
    rows: list[dict],
    source: TopicFacts,
    target: TopicFacts,
    records: list[Record],
    max_timestamps: dict[int, tuple[int, int]],
    now_ms: int,
) -> list[str]:
    """What the target will do to the copies that the operator may not expect."""
    warnings = []
    keep = request.keep_timestamps
    if keep and target.timestamp_type == "LogAppendTime":
        warnings.append(
            f"Target '{target.name}' uses LogAppendTime: the broker stamps every copy with the time it is "
            "written, so the original timestamps will be lost."
        )
    stamps = [r.timestamp_ms for r in records if r.timestamp_ms is not None]
    keeps_stamps = keep and target.timestamp_type != "LogAppendTime"
    if keeps_stamps and stamps and target.retention_ms is not None:
        oldest = min(stamps)
        deleted_in = oldest + target.retention_ms - now_ms
        if deleted_in < DAY_MS:
            when = "at once" if deleted_in <= 0 else f"within {format_duration_ms(deleted_in)}"
            warnings.append(
                f"Copies keep their original timestamps, and the oldest sampled record is from "
                f"{format_time_ms(oldest)}: the target's retention ({format_duration_ms(target.retention_ms)}) "
                f"deletes copies that old {when}, as soon as their log segment rolls. Stamp the copies now, or raise "
                "the target's retention.ms."
            )
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
                    "now instead."
                )
            else:
                warnings.append(
                    f"Partition {p} holds records stamped up to {format_time_ms(stamp)}, newer than the target "
                    "accepts (message.timestamp.after.max.ms); if any are in the range, the copy fails on them. Stamp "
                    "the copies now to be safe."
                )
    if keeps_stamps and target.timestamp_before_max_ms is not None and stamps:
        oldest = min(stamps)
        if oldest < now_ms - target.timestamp_before_max_ms:
            warnings.append(
                f"The oldest sampled record ({format_time_ms(oldest)}) is older than the target accepts "
                f"(message.timestamp.before.max.ms = {format_duration_ms(target.timestamp_before_max_ms)}): the copy "
                "would fail on it. Stamp the copies now instead."
            )
    accept = record_filter(request)
    if accept is not None and records and not any(accept(r.key, list(r.headers)) for r in records):
        warnings.append(
            f"The filter matches none of the {len(records)} sampled records (the first of each "
            "partition's range): check it, or the copy may copy nothing."
        )
    if request.partitioning == "same" and target.partitions > source.partitions:
        warnings.append(
            f"Target '{target.name}' has {target.partitions} partitions and the source "
            f"{source.partitions}: copies go to the partitions of the same number only."
        )
    if request.partitioning == "key-hash":
        warnings.append(
            "Copies are placed by key hash (murmur2, as Java producers place them); records without a "
            "key go to a random partition."
        )
    if not request.exactly_once:
        warnings.append(
            "At least once: no transactions. If the worker stops mid-copy, the records it copied since "
            f"its last checkpoint ({CHECKPOINT_CADENCE}) are copied again when it resumes."
        )
    return warnings


def listed(partitions) -> str:
    """Partition numbers as a sorted, comma-separated list."""
    return ", ".join(str(p) for p in sorted(partitions))
