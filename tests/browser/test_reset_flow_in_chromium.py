"""An offset reset as an operator does it: Chromium, the live server, a real broker and a real Celery worker."""

from __future__ import annotations

import re

import pytest

from tests import kafkatools as kt

pytestmark = pytest.mark.browser

PRODUCED = {0: 50, 1: 40}
COMMITTED = {0: 30, 1: 40}  # lag 20, 0
SHIFT = "-10"
SHIFTED = {0: 20, 1: 30}
PREVIEW_SCREENSHOT = "/tmp/reset_preview.png"
DONE_SCREENSHOT = "/tmp/reset_done.png"
FINAL_WITHIN_MS = 30_000


@pytest.fixture
def empty_group(kafka_bootstrap, unique):
    """An Empty group with known committed offsets on a topic of 2 partitions."""
    topic, group = unique("browser-reset"), unique("browser-reset-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, PRODUCED)
    kt.commit(kafka_bootstrap, group, {(topic, p): o for p, o in COMMITTED.items()})
    return topic, group


def _plan_rows(page, topic: str, *, with_outcome: bool = False) -> dict[int, dict[str, str]]:
    rows = {}
    for p in PRODUCED:
        row = page.locator(f'#plan tr[data-tp="{topic}-{p}"]')
        cells = {
            "before": row.locator(".before").inner_text().strip(),
            "after": row.locator(".after").inner_text().strip(),
            "change": row.locator(".delta").inner_text().strip(),
        }
        if with_outcome:
            cells["committed_after"] = row.locator(".committed-after").inner_text().strip()
            cells["verified"] = row.locator(".verified").inner_text().strip()
        rows[p] = cells
    return rows


def _follow_until_final(page, hx_requests: list[str], navigations: list[str]) -> str:
    """Stay on the operation page, without reloading it, until htmx polling shows a final status."""
    landed = page.locator("#operation-status").inner_text().strip()
    page.evaluate("window.__loadedOnce = true")
    hx_requests.clear()
    navigations.clear()
    page.locator("#operation-status").filter(has_text=re.compile(r"^\s*(Succeeded|Failed|Cancelled)\s*$")).wait_for(
        timeout=FINAL_WITHIN_MS
    )
    assert page.evaluate("window.__loadedOnce === true"), "the operation page was reloaded instead of polled"
    assert navigations == [], navigations
    if landed in ("Pending", "Running"):
        # It was not final when the page loaded, so only a poll can have brought the final status.
        assert any("/operations/" in url for url in hx_requests), hx_requests
    # A final status stops the polling: the status area no longer asks to be refreshed.
    assert page.locator("#status[hx-trigger]").count() == 0
    return landed


def test_an_operator_previews_confirms_follows_and_undoes_a_reset_in_chromium(
    browser_page, live_server, live_cluster, kafka_bootstrap, celery_worker, empty_group, sign_in
):
    from groups.models import Operation

    page = browser_page
    topic, group = empty_group
    group_url = f"{live_server.url}/clusters/local/groups/{group}/"
    navigations, hx_requests = [], []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
    page.on("request", lambda r: r.headers.get("hx-request") == "true" and hx_requests.append(r.url))

    # The group page, and from it the reset form.
    sign_in("operator", "Operator", group_url)
    assert page.locator("#group-state").inner_text().strip() == "Empty"
    with page.expect_navigation():
        page.get_by_role("link", name="Reset offsets").click()
    assert page.url == f"{live_server.url}/clusters/local/reset/{group}/"

    # Shift by -10 on all topics, previewed through htmx under the form.
    page.get_by_label("Strategy").select_option(label="Shift by ±N")
    page.get_by_label("Value").fill(SHIFT)
    page.get_by_label("All topics with committed offsets").check()
    navigations.clear()
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview #plan").wait_for()
    assert navigations == [], "the preview replaced the page instead of filling in under the form"
    assert page.locator("#reset-form").is_visible()
    assert _plan_rows(page, topic) == {
        0: {"before": "30", "after": "20", "change": "-10 · re-consume 10"},
        1: {"before": "40", "after": "30", "change": "-10 · re-consume 10"},
    }
    assert page.locator("#plan-totals").inner_text().strip() == "re-consume 20 · skip 0"
    page.screenshot(path=PREVIEW_SCREENSHOT, full_page=True)
    # A preview writes nothing: Kafka still has the old offsets and no operation was requested.
    assert kt.committed(kafka_bootstrap, group, topic) == COMMITTED
    assert not Operation.objects.exists()

    # Confirm with a reason; the browser lands on the operation page and follows it there.
    page.get_by_label("Reason (recorded in the audit log)").fill("replay the last 10 records after the fix")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply this plan").click()
    reset = Operation.objects.get()
    assert page.url == f"{live_server.url}/operations/{reset.pk}/"
    _follow_until_final(page, hx_requests, navigations)
    assert page.locator("#operation-status").inner_text().strip() == "Succeeded"
    assert page.locator("#operation-reason").inner_text().strip() == "replay the last 10 records after the fix"
    assert _plan_rows(page, topic, with_outcome=True) == {
        0: {"before": "30", "after": "20", "change": "-10 · re-consume 10", "committed_after": "20", "verified": "✓"},
        1: {"before": "40", "after": "30", "change": "-10 · re-consume 10", "committed_after": "30", "verified": "✓"},
    }
    assert kt.committed(kafka_bootstrap, group, topic) == SHIFTED

    # Undo: its preview puts back what the reset found, and nothing moves until it is confirmed.
    with page.expect_navigation():
        page.get_by_role("link", name="Undo").click()
    assert page.url == f"{live_server.url}/clusters/local/reset/{group}/?undo={reset.pk}"
    assert page.locator("h1").inner_text().strip() == f"Undo operation #{reset.pk} on {group}"
    assert _plan_rows(page, topic) == {
        0: {"before": "20", "after": "30", "change": "+10 · skip 10"},
        1: {"before": "30", "after": "40", "change": "+10 · skip 10"},
    }
    assert kt.committed(kafka_bootstrap, group, topic) == SHIFTED
    page.get_by_label("Reason (recorded in the audit log)").fill("put the offsets back")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply this plan").click()
    undo = Operation.objects.exclude(pk=reset.pk).get()
    assert undo.undo_of_id == reset.pk
    assert page.url == f"{live_server.url}/operations/{undo.pk}/"
    _follow_until_final(page, hx_requests, navigations)
    assert page.locator("#operation-status").inner_text().strip() == "Succeeded"
    assert _plan_rows(page, topic, with_outcome=True) == {
        0: {"before": "20", "after": "30", "change": "+10 · skip 10", "committed_after": "30", "verified": "✓"},
        1: {"before": "30", "after": "40", "change": "+10 · skip 10", "committed_after": "40", "verified": "✓"},
    }
    page.screenshot(path=DONE_SCREENSHOT, full_page=True)
    assert kt.committed(kafka_bootstrap, group, topic) == COMMITTED
