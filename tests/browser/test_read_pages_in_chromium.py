"""The read pages as an operator sees them: Chromium against the live server and a real broker."""

from __future__ import annotations

import re

import pytest

from groups.snapshot.collector import COLLECTED, collect
from tests import kafkatools as kt

pytestmark = pytest.mark.browser

PRODUCED = {0: 30, 1: 20, 2: 10}
EMPTY_COMMITS = {0: 10, 1: 15, 2: 10}  # lag 20, 5, 0
STABLE_COMMITS = {0: 25, 1: 20}  # lag 5, 0, and partition 2 never committed
MEMBER_CLIENT_ID = "browser-member"
SCREENSHOT = "/tmp/group_page.png"


@pytest.fixture
def groups_on_a_topic(kafka_bootstrap, unique):
    """One topic of 3 partitions; an Empty group with offsets and a Stable classic group with one member.

    Both group ids start with the same unique prefix, so a search for it finds exactly these two.
    """
    b = kafka_bootstrap
    prefix = unique("browser")
    topic, empty, stable = f"{prefix}-orders", f"{prefix}-empty", f"{prefix}-stable"
    kt.create_topic(b, topic, 3)
    kt.produce(b, topic, PRODUCED)
    kt.commit(b, empty, {(topic, p): o for p, o in EMPTY_COMMITS.items()})
    kt.commit(b, stable, {(topic, p): o for p, o in STABLE_COMMITS.items()})
    member = kt.Member(b, stable, [topic], client_id=MEMBER_CLIENT_ID)
    try:
        member.wait_assigned(60)

        def settled():
            d = kt.admin(b).describe_consumer_groups([stable])[stable].result(timeout=10)
            return (
                d.state.name == "STABLE" and len(d.members) == 1 and len(d.members[0].assignment.topic_partitions) == 3
            )

        kt.wait_for(settled, timeout=60, what="the live group to be Stable owning all 3 partitions")
        yield {"prefix": prefix, "topic": topic, "empty": empty, "stable": stable}
    finally:
        member.stop()


def _row_cells(row) -> list[str]:
    return [text.strip() for text in row.locator("td").all_inner_texts()]


def _partition_rows(page, topic: str) -> dict[int, dict[str, str]]:
    rows = {}
    for p in PRODUCED:
        row = page.locator(f'#partitions tr[data-tp="{topic}-{p}"]')
        rows[p] = {
            "committed": row.locator(".committed").inner_text().strip(),
            "log_end": row.locator(".log-end").inner_text().strip(),
            "lag": row.locator(".lag").inner_text().strip(),
            "owner": row.locator("td").last.inner_text().strip(),
        }
    return rows


def _summary(page) -> tuple[str, str, str]:
    return (
        page.locator("#group-state").inner_text().strip(),
        page.locator("#member-count").inner_text().strip(),
        page.locator("#total-lag").inner_text().strip(),
    )


def test_an_operator_finds_a_group_reads_its_lag_and_sees_it_refresh_in_chromium(
    browser_page, live_server, live_cluster, kafka_bootstrap, groups_on_a_topic, sign_in, use_test_redis
):
    page = browser_page
    g = groups_on_a_topic
    assert collect(live_cluster).outcome == COLLECTED  # the list reads the collector's snapshot
    topic, empty, stable = g["topic"], g["empty"], g["stable"]
    list_url = f"{live_server.url}/clusters/local/groups/"

    # The group list, searched through its form the way a person would.
    sign_in("operator", "Operator", list_url)
    page.get_by_role("searchbox", name="Search group id").fill(g["prefix"])
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert f"q={g['prefix']}" in page.url

    rows = page.locator("#groups tbody tr[data-group]")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.group)") == [empty, stable]
    assert page.locator("#group-count").inner_text().strip() == "2"
    # Group, Status, State, Type, Topics, Members, Partitions, Lag, ...
    empty_cells = _row_cells(page.locator(f'#groups tr[data-group="{empty}"]'))
    stable_cells = _row_cells(page.locator(f'#groups tr[data-group="{stable}"]'))
    assert [empty_cells[i] for i in (0, 2, 4, 5, 6, 7)] == [empty, "Empty", topic, "0", "3", "25"]
    assert [stable_cells[i] for i in (0, 2, 4, 5, 6, 7)] == [stable, "Stable", topic, "1", "3", "5"]
    assert stable_cells[3] == "classic" and empty_cells[1] == "NEW"

    # Through to the Empty group's page.
    with page.expect_navigation():
        page.locator(f'#groups tr[data-group="{empty}"]').get_by_role("link", name=empty).click()
    assert page.url == f"{list_url}{empty}/"
    assert _summary(page) == ("Empty", "0", "25")
    assert _partition_rows(page, topic) == {
        0: {"committed": "10", "log_end": "30", "lag": "20", "owner": "—"},
        1: {"committed": "15", "log_end": "20", "lag": "5", "owner": "—"},
        2: {"committed": "10", "log_end": "10", "lag": "0", "owner": "—"},
    }

    # The page refreshes itself through htmx: new records show up without a reload.
    navigations, refreshes = [], []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
    page.on("request", lambda r: r.headers.get("hx-request") == "true" and refreshes.append(r.url))
    page.evaluate("window.__loadedOnce = true")
    kt.produce(kafka_bootstrap, topic, {0: 5})
    log_end = page.locator(f'#partitions tr[data-tp="{topic}-0"] .log-end')
    log_end.filter(has_text=re.compile(r"^\s*35\s*$")).wait_for(timeout=15_000)
    assert page.evaluate("window.__loadedOnce === true"), "the page was reloaded instead of refreshed"
    assert navigations == [] and refreshes, (navigations, refreshes)
    assert _summary(page) == ("Empty", "0", "30")
    assert _partition_rows(page, topic)[0] == {"committed": "10", "log_end": "35", "lag": "25", "owner": "—"}

    # Back to the results, and through to the Stable group's page.
    page.go_back()
    with page.expect_navigation():
        page.locator(f'#groups tr[data-group="{stable}"]').get_by_role("link", name=stable).click()
    assert page.url == f"{list_url}{stable}/"
    assert _summary(page) == ("Stable", "1", "10")
    members = page.locator("#members tbody tr")
    assert members.count() == 1
    member_cells = _row_cells(members)
    host = member_cells[2]
    assert member_cells[1] == MEMBER_CLIENT_ID and member_cells[3] == "3"
    owner = f"{MEMBER_CLIENT_ID} @ {host}"
    assert _partition_rows(page, topic) == {
        0: {"committed": "25", "log_end": "35", "lag": "10", "owner": owner},
        1: {"committed": "20", "log_end": "20", "lag": "0", "owner": owner},
        2: {"committed": "—", "log_end": "10", "lag": "—", "owner": owner},
    }
    page.screenshot(path=SCREENSHOT, full_page=True)
