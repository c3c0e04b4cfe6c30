"""Deleting a topic's offsets as an admin does it: Chromium, the live server, a real broker and a real Celery worker."""

from __future__ import annotations

import re

import pytest

from tests import kafkatools as kt

pytestmark = pytest.mark.browser

PREVIEW_SCREENSHOT = "/tmp/offset_deletion_preview.png"
DONE_SCREENSHOT = "/tmp/offset_deletion_done.png"


@pytest.fixture
def group_reading_one_of_two_topics(kafka_bootstrap, unique):
    """A group whose live member reads `current`; it still holds offsets on `retired`, which it no longer reads."""
    current, retired, group = unique("browser-current"), unique("browser-retired"), unique("browser-od-group")
    kt.create_topic(kafka_bootstrap, current, 1)
    kt.create_topic(kafka_bootstrap, retired, 2)
    kt.produce(kafka_bootstrap, current, {0: 10})
    kt.produce(kafka_bootstrap, retired, {0: 30, 1: 20})
    kt.commit(kafka_bootstrap, group, {(current, 0): 10, (retired, 0): 25, (retired, 1): 20})
    member = kt.Member(kafka_bootstrap, group, [current], client_id="browser-live-app")
    member.wait_assigned()
    yield current, retired, group
    member.stop()


def test_an_admin_deletes_the_offsets_of_a_topic_the_group_left_while_it_keeps_reading_in_chromium(
    browser_page, live_server, live_cluster, kafka_bootstrap, celery_worker, group_reading_one_of_two_topics, sign_in
):
    from groups.models import Operation

    page = browser_page
    current, retired, group = group_reading_one_of_two_topics
    sign_in("admin", "Admin", f"{live_server.url}/clusters/local/groups/{group}/")
    with page.expect_navigation():
        page.get_by_role("link", name="Delete offsets").click()
    assert page.url == f"{live_server.url}/clusters/local/delete-offsets/{group}/"

    # The topic the group reads is refused, with what to do, and nothing can be confirmed.
    page.locator(f'#offered input[name="topics"][value="{current}"]').check()
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview #blocked").wait_for()
    assert f"subscribe to topic {current}: stop them or change their subscription first" in (
        page.locator("#blocked").inner_text()
    )
    assert page.locator("#confirm-form").count() == 0

    # The retired topic, whole: the preview lists its offsets and lag, under the form.
    page.locator(f'#offered input[name="topics"][value="{current}"]').uncheck()
    page.locator(f'#offered input[name="topics"][value="{retired}"]').check()
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview #confirm-form").wait_for()
    rows = page.locator("#deletion-plan tbody tr")
    assert [re.sub(r"\s+", " ", rows.nth(i).inner_text()).strip() for i in range(rows.count())] == [
        f"{retired} 0 25 0 30 5",
        f"{retired} 1 20 0 20 0",
    ]
    assert page.locator("#deletion-lag").inner_text().strip() == "5"
    page.screenshot(path=PREVIEW_SCREENSHOT, full_page=True)
    assert kt.committed(kafka_bootstrap, group, retired) == {0: 25, 1: 20}

    page.get_by_label("Reason (recorded in the audit log)").fill("the app no longer reads the retired topic")
    with page.expect_navigation():
        page.get_by_role("button", name="Delete these offsets").click()
    operation = Operation.objects.get()
    assert page.url == f"{live_server.url}/operations/{operation.pk}/"
    page.locator("#operation-status").filter(has_text=re.compile(r"^\s*(Succeeded|Failed)\s*$")).wait_for()
    assert page.locator("#operation-status").inner_text().strip() == "Succeeded", page.locator("#status").inner_text()
    assert page.locator(f'#deletion-plan tr[data-tp="{retired}-0"] .result').inner_text().strip() == "deleted"
    assert page.locator("#undo").is_visible()
    page.screenshot(path=DONE_SCREENSHOT, full_page=True)
    assert kt.committed(kafka_bootstrap, group, retired) == {}
    assert kt.committed(kafka_bootstrap, group, current) == {0: 10}
