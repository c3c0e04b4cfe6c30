"""Four-eyes approval as two people live it: Chromium, the live server, a real broker and a real Celery worker."""

from __future__ import annotations

import re

import pytest

from tests import kafkatools as kt

pytestmark = pytest.mark.browser

PRODUCED = {0: 50, 1: 40}
COMMITTED = {0: 30, 1: 40}
SHIFTED = {0: 20, 1: 30}
APPROVAL_SCREENSHOT = "/tmp/approval.png"
AUDIT_SCREENSHOT = "/tmp/audit_story.png"
COMMENT = "Checked with the payments team: replaying 10 records per partition is safe."


@pytest.fixture
def empty_group(kafka_bootstrap, unique):
    topic, group = unique("browser-approval"), unique("browser-approval-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, PRODUCED)
    kt.commit(kafka_bootstrap, group, {(topic, p): o for p, o in COMMITTED.items()})
    return topic, group


def _cells(row, *classes: str) -> tuple[str, ...]:
    return tuple(row.locator(f".{name}").inner_text().strip() for name in classes)


def test_an_operator_requests_an_approver_approves_the_worker_runs_it_and_the_audit_tells_the_story(
    browser_page, live_server, live_cluster, kafka_bootstrap, celery_worker, empty_group, sign_in
):
    from groups.models import Operation

    live_cluster.require_approval = True
    live_cluster.save()
    page = browser_page
    topic, group = empty_group

    # The operator previews and confirms; the confirmation is a request, not a change.
    sign_in("operator", "Operator", f"{live_server.url}/clusters/local/groups/{group}/")
    assert (
        "wait until another user with the Approver role approves them"
        in page.locator("#requires-approval").inner_text()
    )
    with page.expect_navigation():
        page.get_by_role("link", name="Reset offsets").click()
    page.get_by_label("Strategy").select_option(label="Shift by ±N")
    page.get_by_label("Value").fill("-10")
    page.get_by_label("All topics with committed offsets").check()
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview #plan").wait_for()
    page.get_by_label("Reason (recorded in the audit log)").fill("replay the last 10 records after the fix")
    with page.expect_navigation():
        page.get_by_role("button", name="Request approval").click()
    operation = Operation.objects.get()
    operation_url = f"{live_server.url}/operations/{operation.pk}/"
    assert page.url == operation_url
    assert page.locator("#operation-status").inner_text().strip() == "Awaiting approval"
    assert page.locator("#approval-state").inner_text().strip() == (
        f"Awaiting approval by another user with the Approver role, until {operation.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert page.locator("#decision-form").count() == 0
    assert kt.committed(kafka_bootstrap, group, topic) == COMMITTED

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    # The approver finds the request under Approvals and reads it checked against the offsets now.
    sign_in("approver", "Approver", f"{live_server.url}/")
    with page.expect_navigation():
        page.get_by_role("link", name="Approvals").click()
    with page.expect_navigation():
        page.locator(f'#approvals tr[data-operation="{operation.pk}"]').get_by_role("link").click()
    assert page.url == operation_url
    for partition, shifted in SHIFTED.items():
        row = page.locator(f'#review-plan tr[data-tp="{topic}-{partition}"]')
        committed = str(COMMITTED[partition])
        assert _cells(row, "before-then", "before-now", "after-then", "after-now", "check") == (
            committed,
            committed,
            str(shifted),
            str(shifted),
            "unchanged",
        )
    assert page.locator("#review-current").is_visible()
    page.get_by_label("Comment (recorded in the audit log)").fill(COMMENT)
    page.screenshot(path=APPROVAL_SCREENSHOT, full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    assert page.url == operation_url

    # The worker runs it; the page follows by polling.
    page.locator("#operation-status").filter(has_text=re.compile(r"^\s*(Succeeded|Failed|Cancelled)\s*$")).wait_for(
        timeout=30_000
    )
    assert page.locator("#operation-status").inner_text().strip() == "Succeeded"
    assert page.locator("#approval-state").inner_text().startswith("Approved by approver at ")
    assert kt.committed(kafka_bootstrap, group, topic) == SHIFTED

    # The audit page tells who did what, oldest last, and names what was asked in words.
    page.goto(f"{live_server.url}/audit/?group={group}")
    story, said = [], []
    for row in page.locator("#events tbody tr").all():
        cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
        story.append((cells[9], row.locator("td.action").get_attribute("data-action"), cells[2]))
        said.append(" ".join(cells[3].split()))
    page.screenshot(path=AUDIT_SCREENSHOT, full_page=True)
    # The preview showed the operator the first record each partition would read: that read comes first.
    assert story[::-1] == [("—", "read_records", "operator")] + [
        (f"#{operation.pk}", action, actor)
        for action, actor in [
            ("requested", "operator"),
            ("approved", "approver"),
            ("started", "worker"),
            ("succeeded", "worker"),
        ]
    ]
    assert said[::-1] == [
        "read records",
        "requested Reset shift-by -10 all topics with committed offsets",
        "approved Reset shift-by -10 all topics with committed offsets",
        "started Reset shift-by -10 all topics with committed offsets",
        "finished Reset shift-by -10 all topics with committed offsets",
    ]
