"""The record browser without a broker: how bytes are shown, what a filter keeps, and what the form refuses."""

from __future__ import annotations

import json

from django.http import QueryDict

from groups import browse
from groups.forms_records import RecordsForm
from groups.kafka import LogOffsets
from groups.kafka.records import FetchedRecord

PARTITIONS = {0: LogOffsets(10, 130), 1: LogOffsets(5, 5), 2: LogOffsets(None, None)}


def record(key: bytes | None = b"k", value: bytes | None = b"v", headers=()) -> FetchedRecord:
    return FetchedRecord("t", 0, 42, 1_700_000_000_000, "CreateTime", key, value, tuple(headers))


def form(**params: str | list[str]) -> RecordsForm:
    query = QueryDict(mutable=True)
    for name, value in params.items():
        query.setlist(name, value if isinstance(value, list) else [value])
    return RecordsForm.from_query(query, partitions=PARTITIONS)


def test_utf8_text_is_shown_as_text_and_offers_hex_too():
    shown = browse.shown("héllo wörld".encode())
    assert (shown.detected, shown.shown, shown.size) == ("utf-8", "utf-8", 13)
    assert [v.format for v in shown.variants] == ["utf-8", "hex"]
    assert shown.variants[0].text == "héllo wörld"


def test_a_json_object_is_shown_pretty_with_its_big_numbers_intact():
    raw = b'{"id":12345678901234567890,"items":[1,2],"name":"\xc3\xa9"}'
    shown = browse.shown(raw)
    assert shown.shown == "json"
    pretty = next(v.text for v in shown.variants if v.format == "json")
    assert pretty.splitlines()[:2] == ["{", '  "id": 12345678901234567890,']
    assert '"name": "é"' in pretty
    assert json.loads(pretty) == json.loads(raw)


def test_binary_bytes_are_shown_as_a_hex_dump_and_refuse_text_formats():
    raw = bytes([0, 1, 2, 0xFF, 0xFE]) + b"AB"
    shown = browse.shown(raw, "json")
    assert (shown.detected, shown.shown, shown.refused) == ("hex", "hex", "json")
    assert [v.format for v in shown.variants] == ["hex"]
    assert shown.variants[0].text == "00000000  00 01 02 ff fe 41 42" + " " * 27 + "  |.....AB|"


def test_null_is_shown_as_null_and_never_as_empty():
    assert browse.shown(None).is_null and browse.shown(None).size is None
    empty = browse.shown(b"")
    assert not empty.is_null and empty.size == 0


def test_a_format_asked_for_is_shown_where_it_fits():
    assert browse.shown(b'{"a": 1}', "hex").shown == "hex"
    assert browse.shown(b'{"a": 1}', "utf-8").shown == "utf-8"
    assert browse.shown(b"plain", "json").refused == "json"


def test_long_values_are_cut_and_say_so():
    shown = browse.shown(b"x" * (browse.TEXT_LIMIT + 10))
    text = shown.variants[0]
    assert len(text.text) == browse.TEXT_LIMIT and text.truncated
    hex_variant = shown.variants[-1]
    assert hex_variant.truncated and len(hex_variant.text.splitlines()) == browse.HEX_LIMIT // 16


def test_a_record_switched_to_hex_shows_key_value_and_headers_as_hex():
    shown = browse.show_record(record(b"key", b'{"a":1}', [("trace", b"abc"), ("empty", None)]), "hex")
    assert (shown.key.shown, shown.value.shown, shown.headers[0][1].shown) == ("hex", "hex", "hex")
    assert shown.headers[1][1].is_null
    assert shown.time == "2023-11-14 22:13:20.000Z"


def test_the_size_counts_key_value_and_headers():
    assert record(b"ab", b"cde", [("h", b"12")]).size == 2 + 3 + 1 + 2
    assert record(None, None).size == 0


def test_a_key_filter_keeps_the_exact_key_only():
    wanted = browse.BrowseRequest(partition=0, key="order-1")
    assert wanted.accepts(record(b"order-1"))
    assert not wanted.accepts(record(b"order-10"))
    assert not wanted.accepts(record(None))


def test_a_substring_filter_looks_in_key_and_value():
    wanted = browse.BrowseRequest(partition=0, contains="ü")
    assert wanted.accepts(record(b"k", "grün".encode()))
    assert wanted.accepts(record("über".encode(), None))
    assert not wanted.accepts(record(b"k", b"gruen"))
    assert wanted.filter_text == "key or value contains 'ü'"


def test_an_offset_outside_the_log_names_the_partitions_range():
    assert browse.offset_problem(130, 0, PARTITIONS[0]) is None  # the log end: backwards from it is the newest
    assert browse.offset_problem(131, 0, PARTITIONS[0]) == (
        "Offset 131 is outside partition 0: it holds offsets 10 to 129 (log start 10, log end 130)."
    )
    assert "no record now" in browse.offset_problem(4, 1, PARTITIONS[1])


def test_a_link_that_names_no_field_shows_the_form_unread():
    assert not form().is_bound
    assert form(partition="0").is_bound


def test_the_form_defaults_to_the_newest_fifty_records():
    f = form(partition="0")
    assert f.is_valid(), f.errors
    assert f.browse_request() == browse.BrowseRequest(partition=0, seek="end", direction="backward", count=50)


def test_a_read_from_a_time_an_offset_or_the_log_start_goes_forwards_unless_told_otherwise():
    for params, direction in [
        (dict(seek="time", time="2024-01-01T09:00:00"), "forward"),
        (dict(seek="offset", offset="20"), "forward"),
        (dict(seek="start"), "forward"),
        (dict(seek="end"), "backward"),
        (dict(seek="time", time="2024-01-01T09:00:00", direction="backward"), "backward"),
        (dict(seek="end", direction="forward"), "forward"),
    ]:
        f = form(partition="0", **params)
        assert f.is_valid(), f.errors
        assert f.browse_request().direction == direction, params


def test_each_bad_input_is_refused_next_to_its_field():
    cases = {
        "offset": (dict(partition="0", seek="offset", offset="ten"), "'ten' is not an offset: an offset is a whole"),
        "offset  ": (
            dict(partition="0", seek="offset", offset="-5"),
            "'-5' is not an offset: an offset is a whole number, 0 or more.",
        ),
        "offset ": (
            dict(partition="0", seek="offset", offset="9"),
            "holds offsets 10 to 129 (log start 10, log end 130)",
        ),
        "partition": (dict(partition="7"), "There is no partition 7: this topic has partitions 0 to 2."),
        "partition ": (dict(partition="x"), "'x' is not a partition number"),
        "partition  ": (dict(partition="2"), "Partition 2 has no leader now"),
        "time": (dict(partition="0", seek="time", time="yesterday"), "Invalid date and time 'yesterday'"),
        "time ": (dict(partition="0", seek="time", time=""), "Give the date and time to start at"),
        "count": (dict(partition="0", count="19"), "Records must be a whole number from 20 to 500, not '19'."),
        "count ": (dict(partition="0", count="501"), "not '501'"),
        "format": (dict(partition="0", show="42:base64"), "'42:base64' is not OFFSET:FORMAT"),
    }
    for field, (params, message) in cases.items():
        f = form(**params)
        assert not f.is_valid()
        assert list(f.errors) == [field.strip()], (params, f.errors)
        assert message in f.errors[field.strip()][0], (params, f.errors)


def test_a_time_without_a_zone_is_read_as_utc_and_said_so():
    f = form(partition="0", seek="time", time="2024-01-01T09:00:00")
    assert f.is_valid(), f.errors
    assert f.browse_request().time_ms == 1_704_099_600_000 and f.zone_assumed
    f = form(partition="0", seek="time", time="2024-01-01T09:00:00+02:00")
    assert f.is_valid() and f.browse_request().time_ms == 1_704_092_400_000 and not f.zone_assumed


def test_per_record_formats_come_from_the_query():
    f = form(partition="0", show=["42:hex", "43:json"])
    assert f.is_valid(), f.errors
    assert f.record_formats == {42: "hex", 43: "json"}
