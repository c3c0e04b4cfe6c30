"""The record browser in Chromium: how each kind of record reads, the per-record format switch with and without
JavaScript, and a seek by time that lands where Apache Kafka's own tool lands."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Producer

from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = pytest.mark.browser

START_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
RECORDS = [
    {
        "key": b"order-1",
        "value": json.dumps({"id": 1, "city": "Zürich"}).encode(),
        "headers": [("trace", b"abc-123"), ("raw", b"\x00\xff")],
    },
    {"key": "ключ".encode(), "value": "grüße aus Köln".encode(), "headers": None},
    {"key": b"\x00\x01", "value": bytes([0xDE, 0xAD, 0xBE, 0xEF]), "headers": None},
    {"key": None, "value": None, "headers": None},
] + [{"key": f"k{i}".encode(), "value": f"v{i}".encode(), "headers": None} for i in range(4, 30)]
JSON_PRETTY = '{\n  "id": 1,\n  "city": "Zürich"\n}'


@pytest.fixture
def topic(kafka_bootstrap, unique):
    """One partition, record i stamped START_MS + i seconds."""
    name = unique("browse-ui")
    kt.create_topic(kafka_bootstrap, name, 1, config={"retention.ms": "-1"})
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
    for i, record in enumerate(RECORDS):
        producer.produce(name, partition=0, timestamp=START_MS + i * 1000, **record)
    assert producer.flush(30) == 0
    return name


def _watch(page) -> list[str]:
    """Errors and warnings `page` logs, scripts that fail, and failed requests, from now on.

    The console has no favicon yet (issue 13 asks for one), so Chromium's own request for it is left out.
    """
    problems: list[str] = []

    def logged(message) -> None:
        if message.type in ("error", "warning") and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{message.type}: {message.text} ({message.location.get('url')})")

    page.on("console", logged)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on(
        "response", lambda response: response.status >= 400 and problems.append(f"{response.status}: {response.url}")
    )
    return problems


@pytest.fixture
def console_problems(browser_page):
    return _watch(browser_page)


def _shown(page, offset: int, cell: str) -> list[str]:
    """The visible text of each shown variant in a cell of a record's row."""
    return page.locator(f"#record-{offset} td.{cell} pre:visible").all_inner_texts()


def test_an_operator_reads_text_json_binary_null_and_headers_and_switches_one_record(
    browser_page, live_server, live_cluster, topic, sign_in, console_problems
):
    page = browser_page
    url = f"{live_server.url}/clusters/local/topics/{topic}/records/?partition=0&seek=start&direction=forward&count=20"
    sign_in("ann", "Operator", url)
    assert page.locator("#records tbody tr").count() == 20
    assert _shown(page, 0, "value") == [JSON_PRETTY]
    assert _shown(page, 0, "key") == ["order-1"]
    headers = page.locator("#record-0 td.headers")
    assert headers.locator(".header-name").all_inner_texts() == ["trace", "raw"]
    assert headers.locator("pre:visible").all_inner_texts() == ["abc-123", "00000000  00 ff" + " " * 42 + "  |..|"]
    assert _shown(page, 1, "key") == ["ключ"] and _shown(page, 1, "value") == ["grüße aus Köln"]
    assert _shown(page, 2, "value") == ["00000000  de ad be ef" + " " * 36 + "  |....|"]
    assert _shown(page, 2, "key") == ["00000000  00 01" + " " * 42 + "  |..|"]
    assert page.locator("#record-3 td.key").inner_text().strip() == "null"
    assert page.locator("#record-3 td.value").inner_text().strip() == "null"
    stamp = page.locator("#record-1 td.timestamp span[title]")
    assert (
        stamp.inner_text() == "2023-11-14 22:13:21.000 UTC"  # this browser's zone is UTC
        and stamp.get_attribute("title") == f"epoch ms {START_MS + 1000}"
    )
    assert page.locator("#record-1 .timestamp-type").inner_text() == "CreateTime"

    # The switch shows another format at once, without a request.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.locator("#record-0 a[data-show-format=hex]").click()
    first_line = '00000000  7b 22 69 64 22 3a 20 31 2c 20 22 63 69 74 79 22  |{"id": 1, "city"|'
    assert _shown(page, 0, "value")[0].splitlines()[0] == first_line
    assert _shown(page, 0, "key") == ["00000000  6f 72 64 65 72 2d 31" + " " * 27 + "  |order-1|"]
    assert page.locator("#record-0 a[data-show-format=hex]").get_attribute("aria-current") == "true"
    assert _shown(page, 1, "value") == ["grüße aus Köln"]  # other records keep their format
    page.locator("#record-2 a[data-show-format=json]").click()
    assert _shown(page, 2, "value")[0].startswith("00000000  de ad be ef")
    assert page.locator("#record-2 td.value .refused").inner_text() == "not json"
    page.locator("#record-0 a[data-show-format=auto]").click()
    assert _shown(page, 0, "value") == [JSON_PRETTY]
    assert requests == [] and page.url == url
    assert console_problems == []


def test_a_seek_by_time_in_the_form_lands_where_kafka_consumer_groups_does(
    browser_page, live_server, live_cluster, topic, sign_in, console_problems, kafka_bootstrap
):
    group = f"{topic}-tool"
    args = ["--reset-offsets", "--group", group, "--topic", f"{topic}:0", "--to-datetime", "2023-11-14T22:13:31.250"]
    result = run_tool("consumer-groups", [*args, "--dry-run"], kafka_bootstrap)
    rows = [fields for fields in map(str.split, result.stdout.splitlines()) if fields and fields[0] == group]
    assert len(rows) == 1, result.stdout + result.stderr
    tool_offset = int(rows[0][-1])
    assert tool_offset == 12

    page = browser_page
    sign_in("ann", "Operator", f"{live_server.url}/clusters/local/topics/{topic}/records/")
    assert page.get_by_label("backwards").is_checked()  # from the log end: the newest records
    page.get_by_label("a date and time").check()
    # From a time the form reads forwards by itself, as kafka-console-consumer does from a timestamp.
    assert page.get_by_label("forwards").is_checked()
    page.get_by_label("Date and time", exact=True).fill("2023-11-14T22:13:31.250")
    page.get_by_label("Records", exact=True).fill("20")
    with page.expect_navigation():
        page.get_by_role("button", name="Read records").click()
    assert page.locator("#records tbody tr").first.get_attribute("data-record") == str(tool_offset)
    assert page.locator("#zone-assumed").is_visible()
    page.get_by_label("backwards").check()
    page.get_by_label("the log start").check()
    assert page.get_by_label("backwards").is_checked()  # the user's own choice stays
    assert console_problems == []


def test_without_javascript_the_links_switch_formats_and_page_through_the_records(
    browser_page, live_server, live_cluster, topic, make_user
):
    make_user("nojs", "Operator", password="nojs-browser-password")
    context = browser_page.context.browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        problems = _watch(page)
        base = f"{live_server.url}/clusters/local/topics/{topic}/records/"
        page.goto(f"{base}?partition=0&seek=start&direction=forward&count=20")
        page.get_by_label("Username").fill("nojs")
        page.get_by_label("Password").fill("nojs-browser-password")
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        assert _shown(page, 0, "value") == [JSON_PRETTY]

        with page.expect_navigation():
            page.locator("#record-0 a[data-show-format=hex]").click()
        assert "show=0%3Ahex" in page.url or "show=0:hex" in page.url
        assert _shown(page, 0, "value")[0].startswith("00000000  7b 22 69 64")
        assert _shown(page, 1, "value") == ["grüße aus Köln"]

        with page.expect_navigation():
            page.locator("#pager a.format-all", has_text="hex").click()
        assert _shown(page, 1, "value")[0].startswith("00000000  67 72 c3 bc")

        with page.expect_navigation():
            page.locator("#newer").click()
        assert page.locator("#records tbody tr").first.get_attribute("data-record") == "20"
        assert page.locator("#records tbody tr").count() == len(RECORDS) - 20
        with page.expect_navigation():
            page.locator("#older").click()
        offsets = page.locator("#records tbody tr").evaluate_all("rows => rows.map(r => r.dataset.record)")
        assert offsets == [str(offset) for offset in range(19, -1, -1)]

        assert problems == []

        response = page.goto(f"{base}?partition=0&seek=offset&offset=99")
        assert response is not None and response.status == 400
        assert page.locator("#error-offset").inner_text() == (
            "Offset 99 is outside partition 0: it holds offsets 0 to 29 (log start 0, log end 30)."
        )
    finally:
        context.close()
