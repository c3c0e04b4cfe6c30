"""The group list's sparklines and the group page's history chart, in Chromium against the live server,
the real broker and two collection rounds: drawn, interactive, and without console errors."""

from __future__ import annotations

import pytest

from groups.snapshot.collector import COLLECTED, collect
from tests import kafkatools as kt

pytestmark = pytest.mark.browser


@pytest.fixture
def problems(browser_page):
    """Errors and warnings the pages log or throw. Debian's Chromium asks every page for /favicon.ico,
    which the console does not serve; that 404 alone is not the page's."""
    found: list[str] = []

    def console(message):
        if message.type in ("error", "warning") and not message.location.get("url", "").endswith("/favicon.ico"):
            found.append(f"{message.type}: {message.text} ({message.location.get('url')})")

    browser_page.on("console", console)
    browser_page.on("pageerror", lambda error: found.append(f"pageerror: {error}"))
    return found


def test_the_list_sparklines_and_the_group_chart_render_without_console_errors(
    browser_page, live_server, live_cluster, kafka_bootstrap, unique, sign_in, use_test_redis, problems
):
    topic, group = unique("spark"), unique("spark-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 30, 1: 30})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 10, (topic, 1): 10})
    assert collect(live_cluster).outcome == COLLECTED
    kt.produce(kafka_bootstrap, topic, {0: 20})
    assert collect(live_cluster).outcome == COLLECTED  # two rounds: a line, lag 40 then 60

    page = browser_page
    list_url = f"{live_server.url}/clusters/local/groups/?q={group}"
    sign_in("viewer", "Viewer", list_url)
    row = page.locator(f'#groups tr[data-group="{group}"]')
    spark = row.locator("td.spark svg.sparkline")
    assert spark.get_attribute("aria-label") == f"Lag of {group}, last hour: first 40, last 60, max 60"
    assert spark.locator("path.line").count() == 1
    # At 800 px (a laptop's split screen) the columns an operator needs most fit without a scroller.
    page.set_viewport_size({"width": 800, "height": 900})
    table, box = page.evaluate("(t => [t.scrollWidth, t.parentElement.clientWidth])(document.querySelector('#groups'))")
    assert table <= box, (table, box)
    assert not row.locator("td.col-members").is_visible()
    page.set_viewport_size({"width": 1280, "height": 900})
    assert row.locator("td.col-members").is_visible()  # a wide window keeps the full table

    with page.expect_navigation():
        row.get_by_role("link", name=group).click()
    figure = page.locator("figure#history-chart")
    figure.and_(page.locator("[data-chart-state=interactive]")).wait_for()
    assert figure.locator(".chart-live .chart-panel canvas").count() == 2
    assert figure.locator("nav.chart-ranges a[aria-current=true]").inner_text() == "6 h"

    # A range link swaps the chart alone (the page is not reloaded) and draws it again.
    page.evaluate("window.__loadedOnce = true")
    figure.locator("nav.chart-ranges").get_by_role("link", name="1 h").click()
    page.locator("figure#history-chart nav.chart-ranges a[aria-current=true]").filter(has_text="1 h").wait_for()
    page.locator("figure#history-chart[data-chart-state=interactive]").wait_for()
    assert page.evaluate("window.__loadedOnce === true") and page.url.endswith("?range=1h")
    assert page.locator("figure#history-chart .chart-live .chart-panel canvas").count() == 2
    assert page.locator("#live-tables #partitions").count() == 1  # the live tables stay, refreshed on their own
    assert problems == []
