"""The record browser against the real broker: seeking, paging, filters, formats, bad input, access and audit;
and the reset preview's first record after the reset."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer
from django.urls import reverse

from groups import browse
from groups.kafka import ConsoleError, LogOffsets, client_for
from groups.models import AuditEvent, Grant
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("records are read from Kafka; the database holds the users"),
]

START_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z; record i of partition 0 is stamped START_MS + i seconds
SECOND = 1000
RECORDS = 120
LOG_START = 10  # partition 0's first records are deleted, as retention would


def _value(i: int) -> bytes | None:
    """Partition 0's values cycle through JSON, UTF-8 text, binary and null."""
    return [json.dumps({"n": i, "name": "Zoë"}).encode(), f"grüße {i}".encode(), bytes([0, 0xFF, i]), None][i % 4]


def _produce(bootstrap: str, topic: str, partition: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(count):
        producer.produce(
            topic,
            partition=partition,
            key=None if i == 13 else f"user-{i}",
            value=_value(i),
            headers=[("trace-id", f"t{i}".encode()), ("raw", b"\x00\x01")] if i % 5 == 0 else None,
            timestamp=START_MS + i * SECOND,
        )
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def topic(kafka_bootstrap) -> str:
    """Partition 0 holds offsets 10-119 (0-9 deleted), partition 1 is empty; nothing expires (2023 timestamps)."""
    name = f"browse-{datetime.now(UTC):%H%M%S%f}"
    kt.create_topic(kafka_bootstrap, name, 2, config={"retention.ms": "-1"})
    _produce(kafka_bootstrap, name, 0, RECORDS)
    kt.delete_records(kafka_bootstrap, name, 0, LOG_START)
    return name


@pytest.fixture(autouse=True)
def operator(client, make_user):
    """The browser is used by an Operator of every cluster, unless a test signs in someone else."""
    user = make_user("operator", "Operator")
    client.force_login(user)
    return user


def _get(client, topic: str, **params):
    return client.get(reverse("topic_records", args=["local", topic]), params)


def _offsets(body: str) -> list[int]:
    return [int(offset) for offset in re.findall(r'<tr id="record-(\d+)" data-record=', body)]


def _row(body: str, offset: int) -> str:
    match = re.search(rf'<tr id="record-{offset}" data-record="{offset}">(.*?)</tr>', body, re.S)
    assert match, f"no record {offset} on the page"
    return match.group(1)


def _visible(cell: str) -> list[tuple[str, str]]:
    """(format, text) of each shown (not hidden) variant in a cell."""
    return [
        (fmt, html.unescape(text)) for fmt, text in re.findall(r'<pre data-format="([^"]+)">(.*?)</pre>', cell, re.S)
    ]


def _cell(row: str, name: str) -> str:
    match = re.search(rf'<td class="{name}">(.*?)</td>', row, re.S)
    assert match, f"no {name} cell"
    return match.group(1)


def _link(body: str, link_id: str) -> dict[str, str]:
    match = re.search(rf'id="{link_id}" href="\?([^"]+)"', body)
    assert match, f"no {link_id} link"
    from django.http import QueryDict

    return QueryDict(html.unescape(match.group(1))).dict()


def _reads() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="read_records").order_by("id"))


def test_the_default_read_is_the_newest_fifty_records_newest_first(client, cluster, topic):
    response = _get(client, topic, partition="0")
    assert response.status_code == 200
    body = response.content.decode()
    assert _offsets(body) == list(range(119, 69, -1))
    assert "read backwards from offset 120 (the log end)" in body
    assert _link(body, "older") == {"partition": "0", "seek": "offset", "offset": "70", "direction": "backward"}
    assert "Check for newer records" in body


def test_forwards_from_an_offset_pages_on_without_gap_or_overlap(client, cluster, topic):
    body = _get(
        client, topic, partition="0", seek="offset", offset="20", direction="forward", count="20"
    ).content.decode()
    assert _offsets(body) == list(range(20, 40))
    newer = _link(body, "newer")
    assert (newer["offset"], newer["direction"]) == ("40", "forward")
    body = _get(client, topic, **newer).content.decode()
    assert _offsets(body) == list(range(40, 60))
    older = _link(body, "older")
    assert (older["offset"], older["direction"]) == ("40", "backward")
    assert _offsets(_get(client, topic, **older).content.decode()) == list(range(39, 19, -1))


def test_backwards_paging_stops_at_the_log_start(client, cluster, topic):
    body = _get(
        client, topic, partition="0", seek="offset", offset="35", direction="backward", count="20"
    ).content.decode()
    assert _offsets(body) == list(range(34, 14, -1))
    body = _get(client, topic, **_link(body, "older")).content.decode()
    assert _offsets(body) == list(range(14, 9, -1))
    assert "← Older (this is the log start)" in body and 'id="older"' not in body


def test_the_log_start_and_a_read_forwards_from_the_end(client, cluster, topic):
    body = _get(client, topic, partition="0", seek="start", direction="forward", count="20").content.decode()
    assert _offsets(body)[:2] == [10, 11]
    body = _get(client, topic, partition="0", seek="end", direction="forward").content.decode()
    assert _offsets(body) == [] and "No record yet from offset 120: the log ends there." in body


def _tool_offset(bootstrap: str, topic: str, when: str) -> int:
    """The offset `kafka-consumer-groups --reset-offsets --to-datetime --dry-run` plans for partition 0."""
    args = ["--reset-offsets", "--group", f"browse-tool-{topic}", "--topic", f"{topic}:0", "--to-datetime", when]
    result = run_tool("consumer-groups", [*args, "--dry-run"], bootstrap)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [fields for fields in map(str.split, result.stdout.splitlines()) if fields and fields[0] == args[2]]
    assert len(rows) == 1, result.stdout
    return int(rows[0][-1])


def test_seeking_a_time_finds_the_offset_kafka_consumer_groups_finds(client, cluster, topic, kafka_bootstrap):
    # Between records 37 and 38 (the tool takes exactly three fractional digits).
    tool = _tool_offset(kafka_bootstrap, topic, "2023-11-14T22:13:57.500Z")
    assert tool == 38
    for typed in ("2023-11-14T22:13:57.500", "2023-11-14T23:13:57.5+01:00"):
        body = _get(client, topic, partition="0", seek="time", time=typed, direction="forward", count="20").content
        assert _offsets(body.decode())[0] == tool, typed
    # Without a direction, a read from a time goes forwards, as kafka-console-consumer does from a timestamp.
    body = _get(client, topic, partition="0", seek="time", time="2023-11-14T22:13:57.500").content
    assert 'id="zone-assumed"' in body.decode() and _offsets(body.decode())[0] == tool


def test_a_time_after_every_record_starts_at_the_log_end(client, cluster, topic, kafka_bootstrap):
    assert _tool_offset(kafka_bootstrap, topic, "2030-01-01T00:00:00.000Z") == RECORDS
    body = _get(client, topic, partition="0", seek="time", time="2030-01-01T00:00:00Z", direction="backward").content
    body = body.decode()
    assert 'id="no-record-after-time"' in body
    assert _offsets(body)[0] == RECORDS - 1  # backwards from the end: the newest record


def test_keys_values_and_headers_are_shown_as_json_text_hex_or_null(client, cluster, topic):
    body = _get(
        client, topic, partition="0", seek="offset", offset="10", direction="forward", count="20"
    ).content.decode()
    json_row, text_row, binary_row, null_row = (_row(body, offset) for offset in (20, 21, 22, 23))
    assert _visible(_cell(json_row, "value")) == [("json", '{\n  "n": 20,\n  "name": "Zoë"\n}')]
    assert _visible(_cell(text_row, "value")) == [("utf-8", "grüße 21")]
    assert _visible(_cell(binary_row, "value")) == [("hex", "00000000  00 ff 16" + " " * 39 + "  |...|")]
    assert '<span class="muted null">null</span>' in _cell(null_row, "value")
    assert '<span class="muted null">null</span>' in _cell(_row(body, 13), "key")
    assert _visible(_cell(text_row, "key")) == [("utf-8", "user-21")]
    headers = _cell(json_row, "headers")
    assert '<span class="mono header-name">trace-id</span>' in headers and ("utf-8", "t20") in _visible(headers)
    assert ("hex", "00000000  00 01" + " " * 42 + "  |..|") in _visible(headers)
    assert '<span class="muted">none</span>' in _cell(text_row, "headers")
    # The other formats are on the page, hidden, for the per-record switch.
    assert '<pre data-format="utf-8" hidden>' in _cell(json_row, "value")
    assert '<pre data-format="hex" hidden>' in _cell(json_row, "value")


def test_timestamps_offsets_partition_and_size_are_shown(client, cluster, topic, kafka_bootstrap, unique):
    row = _row(_get(client, topic, partition="0", seek="offset", offset="20", direction="forward").content.decode(), 20)
    assert (
        f'<span title="epoch ms {START_MS + 20 * SECOND}"><time datetime="2023-11-14T22:13:40.000Z" '
        'title="2023-11-14 22:13:40.000 UTC" data-when="ms">2023-11-14 22:13:40.000 UTC</time></span>'
    ) in row
    assert '<span class="badge kind timestamp-type">CreateTime</span>' in row
    size = len(b"user-20") + len(_value(20)) + len(b"trace-id") + 3 + len(b"raw") + 2
    assert f'<div class="muted record-meta size" title="bytes of key, value and headers">{size} B</div>' in row
    assert '<span class="partition">0</span>' in row
    appended = unique("browse-append")
    kt.create_topic(kafka_bootstrap, appended, 1, config={"message.timestamp.type": "LogAppendTime"})
    kt.produce(kafka_bootstrap, appended, {0: 1})
    row = _row(_get(client, appended, partition="0").content.decode(), 0)
    assert '<span class="badge kind timestamp-type">LogAppendTime</span>' in row


def test_formats_switch_for_all_records_and_for_one_through_the_query(client, cluster, topic):
    params = {"partition": "0", "seek": "offset", "offset": "20", "direction": "forward", "count": "20"}
    body = _get(client, topic, **params, format="hex").content.decode()
    assert [fmt for fmt, _ in _visible(_cell(_row(body, 20), "value"))] == ["hex"]
    assert [fmt for fmt, _ in _visible(_cell(_row(body, 21), "key"))] == ["hex"]
    body = _get(client, topic, **params, show=["21:hex", "22:json"]).content.decode()
    assert [fmt for fmt, _ in _visible(_cell(_row(body, 20), "value"))] == ["json"]
    assert [fmt for fmt, _ in _visible(_cell(_row(body, 21), "value"))] == ["hex"]
    binary = _cell(_row(body, 22), "value")
    assert [fmt for fmt, _ in _visible(binary)] == ["hex"] and "not json" in binary
    # Each record's switch links to this very read with that record's format.
    pinned = html.escape("?partition=0&seek=offset&offset=20&direction=forward&count=20")
    assert f'href="{pinned}&amp;show=20:hex#record-20"' in body


def test_a_key_filter_finds_the_exact_key_and_says_how_many_it_scanned(client, cluster, topic):
    body = _get(client, topic, partition="0", seek="start", direction="forward", key="user-4", count="20").content
    body = body.decode()
    assert _offsets(body) == []  # user-4 was deleted with offsets 0-9; user-40..49 are not an exact match
    assert "Scanned 110 records" in body
    body = _get(client, topic, partition="0", seek="start", direction="forward", key="user-42", count="20").content
    assert _offsets(body.decode()) == [42] and "Scanned 110 records" in body.decode()


def test_a_substring_filter_searches_keys_and_values_both_ways(client, cluster, topic):
    forwards = _get(client, topic, partition="0", seek="start", direction="forward", contains="grüße 10").content
    assert _offsets(forwards.decode()) == [101, 105, 109]
    backwards = _get(client, topic, partition="0", contains="grüße 10").content.decode()
    assert _offsets(backwards) == [109, 105, 101]
    assert "Filter: key or value contains &#x27;grüße 10&#x27;. Scanned 110 records" in backwards


def test_a_filtered_read_stops_at_the_scan_limit_and_pages_on_from_there(client, cluster, topic, monkeypatch):
    monkeypatch.setattr(browse, "SCAN_LIMIT", 30)
    body = _get(client, topic, partition="0", seek="start", direction="forward", key="nobody", count="20").content
    body = body.decode()
    assert "Scanned 30 records (at most 30 per page); press Older or Newer to scan on" in body
    assert _link(body, "newer")["offset"] == str(LOG_START + 30)
    body = _get(client, topic, partition="0", key="nobody", count="20").content.decode()
    assert "Scanned 30 records" in body and _link(body, "older")["offset"] == str(RECORDS - 30)


BAD_INPUTS = {
    "an offset that is not a number": ({"seek": "offset", "offset": "1e3"}, "error-offset", "'1e3' is not an offset"),
    "an offset before the log start": (
        {"seek": "offset", "offset": "5"},
        "error-offset",
        "Offset 5 is outside partition 0: it holds offsets 10 to 119 (log start 10, log end 120).",
    ),
    "an offset after the log end": ({"seek": "offset", "offset": "121"}, "error-offset", "holds offsets 10 to 119"),
    "an offset on an empty partition": (
        {"partition": "1", "seek": "offset", "offset": "3"},
        "error-offset",
        "Partition 1 holds no record now: its log starts and ends at offset 0.",
    ),
    "an unknown partition": (
        {"partition": "2"},
        "error-partition",
        "There is no partition 2: this topic has partitions 0 to 1.",
    ),
    "a malformed date": ({"seek": "time", "time": "2024-13-01T00:00:00"}, "error-time", "Invalid date and time"),
    "a count too small": (
        {"count": "10"},
        "error-count",
        "Records must be a whole number from 20 to 500, not '10'.",
    ),
    "a count too large": ({"count": "501"}, "error-count", "not '501'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_the_form_back_with_the_error_at_its_field_and_reads_nothing(client, cluster, topic, case):
    params, error_id, message = BAD_INPUTS[case]
    response = _get(client, topic, **{"partition": "0", **params})
    assert response.status_code == 400
    body = response.content.decode()
    shown = re.findall(rf'<div class="field-error" id="{error_id}">([^<]*)</div>', body)
    assert len(shown) == 1 and message in html.unescape(shown[0]), shown
    assert 'id="records-form"' in body and 'id="result"' not in body
    assert _reads() == []


def test_an_unknown_topic_is_a_404_page(client, cluster):
    response = _get(client, "no-such-topic-here", partition="0")
    assert response.status_code == 404
    assert "Topic &#x27;no-such-topic-here&#x27; does not exist" in response.content.decode()
    assert _reads() == []


def test_every_read_is_audited_with_who_what_and_the_offsets_returned(client, cluster, topic, make_user):
    _get(client, topic, partition="0", seek="offset", offset="20", direction="forward", count="20")
    _get(client, topic, partition="0", seek="start", direction="forward", contains="grüße 10")
    plain, filtered = _reads()
    assert (plain.actor, plain.cluster, plain.topics, plain.outcome) == ("operator", "local", [topic], "succeeded")
    assert plain.source_ip == "127.0.0.1"
    row = plain.plan[0]
    assert (row["partition"], row["first_offset"], row["last_offset"], row["records"]) == (0, 20, 39, 20)
    assert "returned offsets 20 to 39 (20 records); read forwards from offset 20" in row["note"]
    row = filtered.plan[0]
    assert (row["first_offset"], row["last_offset"], row["records"], row["scanned"]) == (101, 109, 3, 110)
    assert "filter: key or value contains 'grüße 10' (110 scanned)" in row["note"]
    client.force_login(make_user("audrey", "Admin"))
    page = client.get(reverse("audit_event", args=[filtered.pk])).content.decode()
    assert "read_records" in page and html.escape("returned offsets 101 to 109 (3 records)") in page


def test_a_viewer_may_not_read_records_and_the_refusal_is_audited(client, cluster, topic, make_user):
    client.force_login(make_user("vera", "Viewer"))
    page = client.get(reverse("topic_page", args=["local", topic])).content.decode()
    assert 'id="records-link"' not in page
    assert "Reading records needs the Operator role on every group of local." in page
    response = _get(client, topic, partition="0")
    assert response.status_code == 403
    assert "You may not read records of topics on cluster &#x27;local&#x27;: ask an admin for the Operator role" in (
        response.content.decode()
    )
    denial = AuditEvent.objects.get(action="denied")
    assert (denial.actor, denial.cluster, denial.topics, denial.outcome) == ("vera", "local", [topic], "denied")
    assert _reads() == []


def test_an_operator_of_some_groups_only_may_not_read_records(client, cluster, topic, make_user):
    user = make_user("olga", "Operator", pattern="payments-*")
    client.force_login(user)
    assert _get(client, topic, partition="0").status_code == 403
    Grant.objects.create(user=user, actions=["read_records"], cluster=cluster, group_pattern="*")
    assert _get(client, topic, partition="0").status_code == 200


def test_the_topic_page_links_an_operator_to_the_browser(client, cluster, topic):
    page = client.get(reverse("topic_page", args=["local", topic])).content.decode()
    assert f'id="records-link" href="{reverse("topic_records", args=["local", topic])}"' in page


def _preview_reset(client, group: str, strategy: str, value: str = ""):
    data = {"strategy": strategy, "value": value, "scope_mode": "all", "scope": ""}
    return client.post(reverse("reset_preview", args=["local", group]), data)


def _first_record(body: str, topic: str, partition: int) -> str:
    match = re.search(rf'<tr data-first-record="{re.escape(topic)}-{partition}">(.*?)</tr>', body, re.S)
    assert match, f"no first record row for {topic}-{partition}"
    return match.group(1)


def test_the_reset_preview_shows_the_first_record_each_partition_will_read(client, cluster, topic, unique):
    group = unique("browse-group")
    kt.commit(cluster.bootstrap_servers, group, {(topic, 0): 100, (topic, 1): 0})
    body = _preview_reset(client, group, "to-datetime", "2023-11-14T22:13:57.500Z").content.decode()
    first = _first_record(body, topic, 0)
    assert '<td class="num record-offset"><a href=' in first and ">38</a></td>" in first
    assert ">2023-11-14 22:13:58.000 UTC</time>" in first
    assert '<td class="mono record-key">user-38</td>' in first
    assert '<td class="mono record-value">ff fe' not in first and "00 ff 26" in first  # binary as hex
    assert "no record yet: the log ends here" in _first_record(body, topic, 1)
    (event,) = _reads()
    assert (event.group_id, event.topics, event.plan[0]["first_offset"]) == (group, [topic], 38)
    body = _preview_reset(client, group, "to-offset", "39").content.decode()
    assert '<td class="mono record-value">grüße 39</td>' not in body  # 39 % 4 == 3: a null value
    assert '<td class="mono record-value"><span class="muted">null</span></td>' in _first_record(body, topic, 0)


def test_the_reset_preview_tells_who_may_see_first_records(client, cluster, topic, unique, make_user):
    group = unique("browse-group")
    kt.commit(cluster.bootstrap_servers, group, {(topic, 0): 100})
    user = make_user("rita")
    Grant.objects.create(user=user, actions=["view", "reset"], cluster=None, group_pattern="*")
    client.force_login(user)
    body = _preview_reset(client, group, "to-earliest").content.decode()
    assert 'id="first-records-unavailable"' in body and "with the Operator role on every group of local" in body
    assert 'id="first-records"' not in body and _reads() == []


def test_the_replay_preview_links_each_range_into_the_browser(client, cluster, topic, unique, kafka_bootstrap):
    target = unique("browse-target")
    kt.create_topic(kafka_bootstrap, target, 2)
    data = {
        "partitions_mode": "all",
        "partitions": "",
        "range_mode": "offsets",
        "offsets": "0:30-60",
        "time_from": "",
        "time_to": "",
        "key_filter": "none",
        "key": "",
        "header_filter": "none",
        "header_name": "",
        "header_value": "",
        "target_topic": target,
        "partitioning": "same",
        "timestamps": "keep",
        "throttle": "",
    }
    body = client.post(reverse("replay_preview", args=["local", topic]), data).content.decode()
    query = "?partition=0&amp;seek=offset&amp;offset=30&amp;direction=forward"
    link = reverse("topic_records", args=["local", topic]) + query
    assert f'href="{link}"' in body
    assert _offsets(client.get(html.unescape(link)).content.decode())[0] == 30


def test_a_read_ends_at_the_deadline_with_what_arrived_and_says_so(cluster, topic):
    client = client_for(cluster)
    log = browse.partition_logs(client, topic)[0]
    client.timeout = 0.0  # this client's deadline has passed before the first record could arrive
    wanted = browse.BrowseRequest(partition=0, seek="offset", offset=20, direction="forward", count=20)
    result = browse.read(client, topic, wanted, log, actor="t", cluster="local", source_ip=None)
    assert result.timed_out and result.records == () and result.next_offset == 20
    backwards = browse.read(
        client, topic, browse.BrowseRequest(partition=0, count=20), log, actor="t", cluster="local", source_ip=None
    )
    assert backwards.timed_out and backwards.records == () and backwards.first_offset == RECORDS


def test_an_offset_that_left_the_log_meanwhile_is_told_and_the_failed_read_audited(cluster, topic):
    stale = LogOffsets(0, RECORDS)  # as the page saw it before offsets 0-9 were deleted
    wanted = browse.BrowseRequest(partition=0, seek="offset", offset=5, direction="forward", count=20)
    with pytest.raises(ConsoleError, match="no longer in its log"):
        browse.read(client_for(cluster), topic, wanted, stale, actor="t", cluster="local", source_ip=None)
    (event,) = _reads()
    assert event.outcome == "failed" and "no longer in its log" in event.error and event.plan[0]["records"] == 0


def test_the_first_record_of_an_offset_retention_deleted_says_so(client, cluster, unique):
    topic, group = unique("browse-deleted"), unique("browse-deleted-group")
    kt.create_topic(cluster.bootstrap_servers, topic, 1)
    kt.produce(cluster.bootstrap_servers, topic, {0: 15})
    kt.delete_records(cluster.bootstrap_servers, topic, 0, 8)
    kt.commit(cluster.bootstrap_servers, group, {(topic, 0): 3})
    body = _preview_reset(client, group, "to-current").content.decode()
    row = _first_record(body, topic, 0)
    assert "deleted by retention: the log starts at 8" in row and "request timeout" not in row
